"""`bantin healthcheck`, the Docker HEALTHCHECK: 0 when healthy, 1 when not."""

from __future__ import annotations

from tests.e2e.conftest import Bantin
from tests.fakes.net import free_port


def test_without_an_http_endpoint_the_database_is_asked(bantin: Bantin) -> None:
    result = bantin("healthcheck")
    assert result.returncode == 0, result.stderr
    assert "database ok" in result.stdout


def test_an_endpoint_that_does_not_answer_is_unhealthy(bantin: Bantin) -> None:
    port = free_port()
    result = bantin("healthcheck", "--url", f"http://127.0.0.1:{port}/healthz")
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    by_setting = bantin("healthcheck", env={"BANTIN_METRICS_PORT": str(port)})
    assert by_setting.returncode == 1

"""The Dockerfile and docker-compose.yml say what the README promises. This machine has
no Docker engine, so they are read, not built: the roles, the commands, the environment each
process needs, a non-root multi-stage image with a health check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_image_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", text, flags=re.M)) >= 2
    assert "COPY --from=build" in text
    user = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*bantin.*healthcheck", text, flags=re.M)
    assert 'CMD ["bantin", "run"]' in text


def test_compose_runs_postgres_one_scheduler_two_workers_and_the_webhook_server() -> None:
    services = _compose()["services"]
    assert {"db", "migrate", "serve", "scheduler", "worker"} <= set(services)
    assert services["db"]["image"].startswith("postgres")
    assert services["serve"]["command"] == ["bantin", "serve"]
    assert services["scheduler"]["command"] == ["bantin", "scheduler"]
    assert services["worker"]["command"] == ["bantin", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["bantin", "db", "upgrade"]
    for name in ("serve", "scheduler", "worker"):
        env = services[name]["environment"]
        assert env["BANTIN_DATABASE_URL"].startswith("postgresql://"), name
        assert "BANTIN_TELEGRAM_TOKEN" in env, name
        wait = services[name]["depends_on"]["migrate"]["condition"]
        assert wait == "service_completed_successfully", name
    serve_env = set(services["serve"]["environment"])
    webhook = {"BANTIN_TELEGRAM_WEBHOOK_URL", "BANTIN_TELEGRAM_WEBHOOK_SECRET", "BANTIN_LISTEN"}
    assert webhook <= serve_env
    for name in ("scheduler", "worker"):
        assert services[name]["environment"]["BANTIN_METRICS_PORT"]


def test_every_setting_compose_names_exists() -> None:
    from bot.app.settings import Settings

    known = {f"BANTIN_{name.upper()}" for name in Settings.model_fields}
    for name, service in _compose()["services"].items():
        for var in service.get("environment", {}):
            if var.startswith("BANTIN_"):
                assert var in known, f"{name}: {var} is not a setting"

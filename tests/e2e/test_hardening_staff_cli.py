"""`bantin staff add` obeys the last-admin rule the chat obeys: demoting the platform's last
admin is refused (exit 1, nothing changed, nothing audited)."""

from __future__ import annotations

import json

from tests.e2e.conftest import Bantin


def test_cli_cannot_demote_the_last_admin(bantin: Bantin) -> None:
    assert bantin("staff", "add", "4242", "--role", "admin").returncode == 0
    refused = bantin("staff", "add", "4242", "--role", "editor")
    assert refused.returncode == 1 and "4242" in refused.stderr
    listed = json.loads(bantin("staff", "list", "--json").stdout)
    assert [(m["user_id"], m["role"]) for m in listed] == [("4242", "admin")]
    # A second admin first, then the demotion goes through.
    assert bantin("staff", "add", "4343", "--role", "admin").returncode == 0
    assert bantin("staff", "add", "4242", "--role", "editor").returncode == 0
    listed = json.loads(bantin("staff", "list", "--json").stdout)
    assert sorted((m["user_id"], m["role"]) for m in listed) == [
        ("4242", "editor"),
        ("4343", "admin"),
    ]
    entries = json.loads(bantin("audit", "--json").stdout)
    assert [(e["action"], e["target"], e["detail"]) for e in reversed(entries)] == [
        ("staff.add", "telegram:4242", "admin"),
        ("staff.add", "telegram:4343", "admin"),
        ("staff.add", "telegram:4242", "editor"),
    ]

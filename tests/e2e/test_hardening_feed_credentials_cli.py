"""`bantin feeds add https://user:password@…` without --name: the commands that show feeds
(add, list, list --json, audit, export-opml) never print the password; export-opml keeps it
only when asked for a backup (--with-credentials)."""

from __future__ import annotations

import json

from storage.store import Store
from tests.e2e.conftest import Bantin
from tests.integration.test_hardening_feed_credentials import PASSWORD, SHOWN, URL


def test_feed_commands_never_print_the_password(bantin: Bantin) -> None:
    added = bantin("feeds", "add", URL)
    assert added.returncode == 0, added.stderr
    assert SHOWN in added.stdout
    listed, as_json, audit, opml = bantin.parallel(
        ("feeds", "list"), ("feeds", "list", "--json"), ("audit",), ("feeds", "export-opml")
    )
    for result in (added, listed, as_json, audit, opml):
        assert result.returncode == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
    assert SHOWN in listed.stdout and SHOWN in audit.stdout and SHOWN in opml.stdout
    assert json.loads(as_json.stdout)[0]["url"] == SHOWN
    backup = bantin("feeds", "export-opml", "--with-credentials")
    assert backup.returncode == 0 and PASSWORD in backup.stdout

    async def stored(store: Store) -> str:
        [feed] = await store.feeds.all()
        return feed.url

    assert bantin.with_store(stored) == URL  # the fetcher's copy is whole

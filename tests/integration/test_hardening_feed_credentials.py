"""A feed added as https://user:password@host/… without a name: the password reaches the
fetcher and nobody else. Citizens' source buttons and `/start s<id>`, staff's audience picker
and the audit log show the address without `user:password@`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dialog.events import Command, Press, Text, Who
from bot.dialog.router import Dialog
from jobs.channel import HTML, Capabilities, OutMessage
from jobs.ingest.opml import OpmlFeed, parse_opml, to_opml
from storage.audit import CLI_ACTOR
from storage.store import Store
from storage.urls import shown_url, without_userinfo

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
CAPS = Capabilities(markup=HTML)
ADMIN = Who("telegram", "900", "900", display_name="Cán bộ")
CITIZEN = Who("telegram", "501", "501", display_name="Nguyễn Văn A")
PASSWORD = "Pa55w0rd-Cong-Xa"
URL = f"https://portal-user:{PASSWORD}@congxa.example.vn/rss/tin-tuc.xml"
SHOWN = "https://congxa.example.vn/rss/tin-tuc.xml"


@pytest.fixture
async def dialog(store: Store) -> Dialog:
    await store.staff.ensure("telegram", "900", role="admin")
    return Dialog(store, capabilities=lambda _p: CAPS, clock=lambda: NOW)


def _everything(message: OutMessage) -> str:
    return message.text + " ".join(b.label + b.data for row in message.buttons for b in row)


def test_shown_url_drops_userinfo_only() -> None:
    assert shown_url(URL) == SHOWN
    assert shown_url("https://u:p@ss@h.vn:8443/a?b=1") == "https://h.vn:8443/a?b=1"
    assert shown_url("https://h.vn/a@b") == "https://h.vn/a@b"
    assert without_userinfo(f"added {URL} ok") == f"added {SHOWN} ok"


async def test_the_fetcher_still_gets_the_credentials(store: Store) -> None:
    feed, _ = await store.feeds.add(URL)
    assert feed.url == URL  # what jobs/ingest/poll.py hands to the fetcher
    assert [f.url for f in await store.feeds.due(NOW)] == [URL]
    assert feed.label == SHOWN and feed.shown_url == SHOWN


async def test_citizen_source_buttons_and_deep_link(dialog: Dialog, store: Store) -> None:
    feed, _ = await store.feeds.add(URL)
    await dialog.handle(Command(CITIZEN, "start"))
    sources = await dialog.handle(Press(CITIZEN, "st:feeds", message_id="5", press_id="p1"))
    assert sources.edit is not None
    shown = _everything(sources.edit)
    assert SHOWN in shown and PASSWORD not in shown and "portal-user" not in shown
    linked = await dialog.handle(Command(CITIZEN, "start", f"s{feed.id}"))
    text = " ".join(r.text for r in linked.replies)
    assert SHOWN in text and PASSWORD not in text


async def test_broadcast_audience_picker(dialog: Dialog, store: Store) -> None:
    feed, _ = await store.feeds.add(URL)
    await dialog.handle(Command(ADMIN, "broadcast", ""))
    await dialog.handle(Text(ADMIN, "Lịch tiếp dân tháng 12"))
    [draft] = await store.announcements.recent(1)
    audience = await dialog.handle(Press(ADMIN, f"bw:skip:{draft.id}"))
    picker = _everything(audience.replies[0])
    assert f"bw:aud:{draft.id}:f{feed.id}" in picker
    assert PASSWORD not in picker and "congxa.example.vn" in picker
    _, feeds = await store.announcements.audience_options()
    assert feeds == [(feed.id, SHOWN)]


async def test_audit_log_stores_no_credentials(store: Store) -> None:
    await store.audit.record(CLI_ACTOR, "feed.add", "feed:1", URL)
    [entry] = await store.audit.recent()
    assert entry.detail == SHOWN


def test_opml_export_leaves_credentials_out_unless_asked() -> None:
    feeds = [OpmlFeed(URL, None, "Xã")]
    shared = to_opml(feeds).decode()
    assert PASSWORD not in shared and SHOWN in shared
    backup = to_opml(feeds, keep_credentials=True)
    assert backup.decode().count(PASSWORD) == 1  # xmlUrl only, never the text shown
    [back] = parse_opml(backup).feeds
    assert back == OpmlFeed(URL, None, "Xã")

"""Every `bantin` command, run as the installed console script in a subprocess.

The commands are what operators script against (cron, Docker health checks, a shell on the
district's server), so exit statuses, the lines printed, and "no traceback, one line per
problem" are part of the product. Details of the fixture: tests/e2e/conftest.py.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import signal
import sqlite3
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.i18n import t
from storage.migrate import head_revision
from storage.records import NewArticle
from storage.store import Store
from tests.e2e.conftest import Bantin
from tests.fakes.feed_server import FeedServer, unused_port

SAMPLE_FEED = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample_feed.xml"
PORTAL = "https://chiemhoa.tuyenquang.gov.vn"


def rss(*items: tuple[str, str, str], title: str = "Cổng TTĐT huyện Chiêm Hóa") -> bytes:
    """A small RSS 2.0 document; items are (guid, title, first paragraph)."""
    body = "".join(
        f"<item><title>{name}</title><link>{PORTAL}/tin-tuc/{guid}</link>"
        f"<guid>{guid}</guid><pubDate>0{n} Nov 2026 08:00:00 +0700</pubDate>"
        f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>"
        for n, (guid, name, text) in enumerate(items, start=1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{PORTAL}</link>{body}</channel></rss>"
    ).encode()


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def stats(bantin: Bantin) -> dict[str, object]:
    proc = bantin("stats", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout  # one JSON object on one line, for scripts
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    return data


# -- db --------------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_and_is_idempotent(bantin: Bantin) -> None:
    assert not bantin.db_path.exists()
    first = bantin("db", "upgrade")
    assert first.returncode == 0, first.stderr
    revision = head_revision()
    assert revision and revision in first.stdout
    assert str(bantin.db_path) in first.stdout
    assert bantin.db_path.exists()

    again = bantin("db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    no_traceback(again)


# -- feeds -----------------------------------------------------------------------------------------


def test_feeds_add_list_and_remove(bantin: Bantin) -> None:
    url = "http://127.0.0.1:9/rss/tin-tuc.rss"  # never fetched here
    added = bantin("feeds", "add", url, "--name", "Cổng TTĐT tỉnh Tuyên Quang")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == t("cli_feed_added", id=1, url=url)

    again = bantin("feeds", "add", url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == t("cli_feed_exists", id=1, url=url)

    listed, as_json = bantin.parallel(("feeds", "list"), ("feeds", "list", "--json"))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == t("cli_feeds_header")
    [row] = listed.stdout.splitlines()[1:]
    assert row.split()[:3] == ["1", t("cli_status_new"), "0"]  # id, status, articles
    assert row.endswith("Cổng TTĐT tỉnh Tuyên Quang")

    assert as_json.returncode == 0, as_json.stderr
    [entry] = json.loads(as_json.stdout)
    assert entry == {
        "id": 1,
        "url": url,
        "name": "Cổng TTĐT tỉnh Tuyên Quang",
        "category": None,
        "status": t("cli_status_new"),
        "articles": 0,
        "last_success": None,
        "last_error": None,
        "consecutive_errors": 0,
        "next_poll": None,
    }

    removed = bantin("feeds", "remove", "1")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == t("cli_feed_removed", id=1)
    missing = bantin("feeds", "remove", "1")
    assert missing.returncode == 1
    assert missing.stderr.strip() == t("cli_feed_missing", id=1)
    no_traceback(missing)

    async def feeds(store: Store) -> int:
        return len(await store.feeds.all())

    assert bantin.with_store(feeds) == 0


def test_feeds_add_rejects_other_schemes_before_touching_the_database(bantin: Bantin) -> None:
    proc = bantin("feeds", "add", "ftp://x")
    assert proc.returncode == 2
    assert proc.stderr.strip() == t("cli_feed_bad_url", url="ftp://x")
    assert "http://" in proc.stderr and "file://" in proc.stderr
    no_traceback(proc)
    assert not bantin.db_path.exists()


# -- poll, deliver, stats --------------------------------------------------------------------------


@pytest.mark.slow
def test_poll_once_then_deliver_in_console_mode(bantin: Bantin, tmp_path: Path) -> None:
    local = tmp_path / "thong-bao.xml"
    local.write_bytes(
        rss(("tb-1", "Thông báo lịch tiếp công dân", "UBND huyện thông báo lịch tiếp dân."))
    )
    closed = f"http://127.0.0.1:{unused_port()}/rss.xml"

    with FeedServer() as fs:
        served = fs.add(
            "/rss/tin-tuc.rss",
            body=rss(
                ("tin-1", "Khai mạc hội chợ nông sản", "Hội chợ nông sản huyện khai mạc sáng nay."),
                ("tin-2", "Sửa chữa cầu Bản Khiển", "Cầu Bản Khiển được sửa chữa trong tháng."),
            ),
            headers={"Content-Type": "application/rss+xml"},
        )

        async def seed(store: Store) -> list[int]:
            # The console subscriber must exist before the poll: fan-out happens at poll time.
            await store.subscribers.subscribe("console", "demo", display_name="Người dùng thử")
            ids = []
            for url, name in ((served, "Tin tức"), (local.as_uri(), "Thông báo"), (closed, None)):
                feed, _ = await store.feeds.add(url, name=name)
                ids.append(feed.id)
            return ids

        news, notices, dead = bantin.with_store(seed)
        polled = bantin("poll", "--once")
        assert any(r.path == "/rss/tin-tuc.rss" for r in fs.requests)

    assert polled.returncode == 0, polled.stderr  # one feed failing is not a failed poll
    no_traceback(polled)
    lines = polled.stdout.splitlines()
    assert t("cli_poll_feed_ok", id=news, name="Tin tức", new=2) in lines
    assert t("cli_poll_feed_ok", id=notices, name="Thông báo", new=1) in lines
    refused = "connection refused by 127.0.0.1"
    assert t("cli_poll_feed_error", id=dead, name=closed, error=refused) in lines
    assert lines[-1] == t("cli_poll_done", feeds=3, new=3, errors=1, queued=3)

    with sqlite3.connect(bantin.db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    counted, listed, as_json = bantin.parallel(
        ("stats", "--json"), ("feeds", "list"), ("feeds", "list", "--json")
    )
    after_poll = json.loads(counted.stdout)
    assert after_poll["articles"] == 3
    assert after_poll["deliveries"] == {"pending": 3}

    assert listed.returncode == 0, listed.stderr
    assert t("cli_last_error", error=refused) in listed.stdout.splitlines()
    by_id = {f["id"]: f for f in json.loads(as_json.stdout)}
    assert by_id[dead]["last_error"] == refused
    assert by_id[dead]["status"] == t("cli_status_failing", n=1)
    assert by_id[dead]["last_success"] is None and by_id[dead]["next_poll"]
    assert by_id[news]["status"] == t("cli_status_ok") and by_id[news]["articles"] == 2
    assert by_id[news]["last_success"] and by_id[news]["last_error"] is None
    assert by_id[notices]["articles"] == 1

    delivered = bantin("deliver", "--until-idle")
    assert delivered.returncode == 0, delivered.stderr
    no_traceback(delivered)
    out = delivered.stdout
    assert out.count("→ demo") == 3
    for title in ("Khai mạc hội chợ nông sản", "Sửa chữa cầu Bản Khiển", "Thông báo lịch tiếp"):
        assert title in out
    assert "Hội chợ nông sản huyện khai mạc sáng nay." in out
    assert f"{PORTAL}/tin-tuc/tin-1" in out

    final = stats(bantin)
    assert final["deliveries"] == {"sent": 3}
    assert final["subscribers"] == {"active": 1, "inactive": 0}


def test_stats_json_is_one_object_with_every_key(bantin: Bantin) -> None:
    assert stats(bantin) == {
        "feeds": 0,
        "articles": 0,
        "subscribers": {"active": 0, "inactive": 0},
        "deliveries": {},
        "feedback": 0,
        "feedback_cards_refused": 0,
        "dead_updates": 0,
    }


# -- broadcast -------------------------------------------------------------------------------------


def test_broadcast_queues_to_active_subscribers_only_when_confirmed(bantin: Bantin) -> None:
    async def seed(store: Store) -> None:
        for chat in ("101", "102", "103"):
            await store.subscribers.subscribe("telegram", chat)
        left, _ = await store.subscribers.subscribe("telegram", "104")
        await store.subscribers.deactivate(left.id, "stopped")

    bantin.with_store(seed)
    text = "Thông báo: mất điện xã Phúc Sơn từ 8h đến 11h ngày 30/11."

    queued = bantin("broadcast", text, "--yes")
    assert queued.returncode == 0, queued.stderr
    assert queued.stdout.strip() == t("cli_broadcast_queued", id=1, count=3)

    # No --yes and stdin is not a TTY: nobody can confirm, so nothing is queued.
    unconfirmed, empty = bantin.parallel(("broadcast", "Thông báo thứ hai"), ("broadcast", "   "))
    assert unconfirmed.returncode == 1
    assert t("cli_broadcast_aborted") in unconfirmed.stderr
    no_traceback(unconfirmed)

    assert empty.returncode == 2
    assert empty.stderr.strip() == t("cli_broadcast_empty")

    data = stats(bantin)
    assert data["subscribers"] == {"active": 3, "inactive": 1}
    assert data["deliveries"] == {"pending": 3}

    async def announcements(store: Store) -> list[tuple[str, str, int]]:
        return [(a.text, a.status, a.recipients) for a in await store.announcements.recent()]

    assert bantin.with_store(announcements) == [(text, "queued", 3)]


# -- feedback export -------------------------------------------------------------------------------

FEEDBACK = [
    'Đường ĐT.188 đoạn qua xã Phúc Sơn bị sạt lở, đề nghị xử lý "gấp".\nXin cảm ơn!',
    "Cho hỏi lịch tiêm chủng ở trạm y tế xã Yên Nguyên; tôi ở thôn Nà Khà",
]


def test_feedback_export_writes_csv_with_bom(bantin: Bantin, tmp_path: Path) -> None:
    async def seed(store: Store) -> None:
        feed, _ = await store.feeds.add(f"{PORTAL}/rss/tin-tuc.rss", name="Chiêm Hóa")
        [article] = await store.articles.add(
            feed.id,
            [
                NewArticle(
                    guid="g1",
                    link=f"{PORTAL}/tin-tuc/g1",
                    title="Phân luồng giao thông cầu Bản Khiển",
                    summary="Tóm tắt",
                    body=None,
                    image_url=None,
                    categories=(),
                    published_at=datetime(2026, 11, 16, tzinfo=UTC),
                )
            ],
            now=datetime(2026, 11, 16, tzinfo=UTC),
            seen=[False],
        )
        sub, _ = await store.subscribers.subscribe("telegram", "555", display_name="Nguyễn Thị Hà")
        await store.feedback.add(sub.id, article.id, FEEDBACK[0])
        await store.feedback.add(sub.id, None, FEEDBACK[1])

    bantin.with_store(seed)
    proc = bantin("feedback", "export")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(proc.stdout.removeprefix("\ufeff"))))
    header, *items = rows
    assert header[0] == "ticket" and header[-1] == "text"
    assert len(items) == 2
    first, second = (dict(zip(header, row, strict=True)) for row in items)
    assert first["text"] == FEEDBACK[0] and second["text"] == FEEDBACK[1]
    assert first["name"] == "Nguyễn Thị Hà"
    assert first["article_title"] == "Phân luồng giao thông cầu Bản Khiển"
    assert second["article_id"] == "" and second["article_title"] == ""

    target = tmp_path / "phản hồi.csv"
    to_file = bantin("feedback", "export", "-o", str(target))
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout == ""
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert target.read_text(encoding="utf-8") == proc.stdout  # both read with universal newlines
    assert t("cli_export_done", count=2, path=target) in to_file.stderr


# -- bad input -------------------------------------------------------------------------------------


def test_bad_settings_name_each_variable_and_touch_no_database(bantin: Bantin) -> None:
    bad = {"BANTIN_SEND_RATE": "-1", "BANTIN_ADMIN_IDS": "x"}
    absent = bantin("stats", env=bad)
    assert absent.returncode == 2
    no_traceback(absent)
    problems = [line.strip() for line in absent.stderr.splitlines()[1:]]
    assert absent.stderr.splitlines()[0] == t("cli_settings_invalid")
    assert sorted(p.split(":")[0] for p in problems) == ["BANTIN_ADMIN_IDS", "BANTIN_SEND_RATE"]
    assert absent.stdout == ""
    assert not bantin.db_path.exists()

    bantin.with_store(lambda store: store.feeds.add("file:///tmp/x.xml"))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in bantin.cwd.iterdir()}
    present = bantin("stats", env=bad)
    assert present.returncode == 2
    assert present.stderr == absent.stderr
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in bantin.cwd.iterdir()}
    assert after == before


def test_unknown_command_is_a_usage_error_without_traceback(bantin: Bantin) -> None:
    proc = bantin("nosuch")
    assert proc.returncode != 0
    assert "No such command" in proc.stderr and "nosuch" in proc.stderr
    no_traceback(proc)
    assert not bantin.db_path.exists()


# -- run -------------------------------------------------------------------------------------------


def _sample_items() -> list[tuple[str, str]]:
    channel = ET.parse(SAMPLE_FEED).getroot().find("channel")
    assert channel is not None
    return [(i.findtext("title") or "", i.findtext("link") or "") for i in channel.iter("item")]


@pytest.mark.slow
def test_run_in_console_mode_prints_the_sample_feed_and_stops_on_sigint(
    bantin: Bantin, tmp_path: Path
) -> None:
    items = _sample_items()
    assert len(items) == 5
    lines: queue.Queue[str | None] = queue.Queue()
    proc = bantin.popen("run", stderr=tmp_path / "run.stderr")
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 40  # five messages to one chat are paced one per second
        while not all(f"Xem toàn văn: {link}" in "".join(seen) for _, link in items):
            remaining = deadline - time.monotonic()
            assert remaining > 0, "sample summaries did not all appear:\n" + "".join(seen)
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, "bantin run exited early:\n" + (
                tmp_path / "run.stderr"
            ).read_text(encoding="utf-8")
            seen.append(line)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    reader.join(timeout=10)

    out = "".join(seen)
    assert t("console_banner") in out
    assert out.count("→ demo") == 5
    for title, _ in items:
        # The fifth title ends in "<dichvucong.gov.vn>", which the parser drops today: see
        # tests/integration/test_poll.py::test_angle_bracketed_text_in_a_plain_title_is_kept.
        assert title in out, title
    err = (tmp_path / "run.stderr").read_text(encoding="utf-8")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    ["stats", "run"],
)
def test_unreachable_database_gives_one_clear_line(
    bantin: Bantin, tmp_path: Path, command: str
) -> None:
    missing_dir = tmp_path / "no-such-dir" / "bantin.db"
    proc = bantin(command, env={"BANTIN_DATABASE_URL": f"sqlite:///{missing_dir}"}, timeout=30)
    assert proc.returncode == 1
    no_traceback(proc)
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, proc.stderr
    assert str(missing_dir) in errors[0] and "unable to open database file" in errors[0]
    assert not missing_dir.parent.exists()

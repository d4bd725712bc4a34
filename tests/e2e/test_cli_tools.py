"""`bantin summarize` and `bantin feeds import-opml / export-opml`, run as the installed script.

Both are tools operators pipe and script: output order, one JSON object per line, exit statuses,
"no traceback" and "nothing lost in a round trip" are the product here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.i18n import t
from jobs.ingest.opml import parse_opml
from tests.fakes.feed_server import FeedServer
from tests.fakes.procenv import subprocess_env
from tests.unit.test_article import PORTAL_PAGE, PORTAL_TITLE

BANTIN = shutil.which("bantin", path=str(Path(sys.executable).parent))
HTML = {"Content-Type": "text/html; charset=utf-8"}

BODY = (
    "Sáng 10/11, Bộ Công an tổ chức hội nghị trực tuyến sơ kết Ngày hội toàn dân bảo vệ ANTQ "
    "năm 2022 tới điểm cầu các huyện trên toàn quốc.\n"
    "Toàn cảnh hội nghị tại điểm cầu Chiêm Hóa.\n"
    "Dự Hội nghị tại điểm cầu Chiêm Hóa có các đồng chí lãnh đạo Công an huyện, Ban Chỉ huy "
    "Quân sự huyện, các cơ quan phòng, ban chuyên môn huyện./.\n"
    "Gửi phản hồi"
)


def run(
    tmp_path: Path, *args: str, stdin: str = "", db: str = "bantin.db", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`bantin ARGS` with the internet guard, no BANTIN_* from the shell, a SQLite file `db`."""
    assert BANTIN, "the bantin console script is not installed next to this Python"
    inherited = {k: None for k in os.environ if k.startswith("BANTIN_") and k != "BANTIN_NETGUARD"}
    env = subprocess_env(
        **{**inherited, "BANTIN_DATABASE_URL": f"sqlite:///{tmp_path / db}"},
    )
    proc = subprocess.run(
        [BANTIN, *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def jsonl(*objects: object) -> str:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)


# --- summarize -------------------------------------------------------------------------------


def test_summarize_every_kind_of_line_in_order_without_a_database(tmp_path: Path) -> None:
    with FeedServer() as fs, FeedServer() as other:
        page = fs.add("/tin/123.html", body=PORTAL_PAGE, headers=HTML)
        missing = fs.add("/tin/404.html", body="không có", status=404, headers=HTML)
        elsewhere = fs.redirect("/tin/moved", to=other.add("/x", body=PORTAL_PAGE, headers=HTML))
        stdin = (
            jsonl(
                {"id": 1, "title": PORTAL_TITLE, "body": BODY},
                {"id": 2, "title": PORTAL_TITLE, "html": PORTAL_PAGE},
                {"id": 3, "title": PORTAL_TITLE, "url": page},
            )
            + "{not json\n\n"
            + jsonl(
                [1, 2],
                {"id": 6, "title": "Chỉ có tiêu đề"},
                {"id": 7, "title": PORTAL_TITLE, "url": missing},
                {"id": 8, "title": PORTAL_TITLE, "url": elsewhere},
                {"id": 9, "title": "Trang trống", "html": "<nav><a href='/'>Trang chủ</a></nav>"},
                {"id": 10, "title": PORTAL_TITLE, "body": ["Đoạn một ngắn.", BODY]},
            )
        )
        proc = run(tmp_path, "summarize", stdin=stdin, db="never-created.db")
        assert other.requests == []  # the redirect off the URL's own host was refused
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "never-created.db").exists()
    assert "\\u" not in proc.stdout  # ensure_ascii=False: Vietnamese stays readable
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 10  # the blank line is skipped, every other line answered
    ids = [o.get("id", o.get("line")) for o in out]
    assert ids == [1, 2, 3, 4, 6, 6, 7, 8, 9, 10]  # lines 4 (bad JSON) and 6 ([1, 2]) by number

    first, from_html, from_url = out[0], out[1], out[2]
    assert first["body"] == BODY and first["title"] == PORTAL_TITLE  # fields kept as given
    assert first["summary"].startswith("Sáng 10/11, Bộ Công an")
    assert "Toàn cảnh" not in first["summary"] and "Gửi phản hồi" not in first["summary"]
    for item in (from_html, from_url):
        assert "error" not in item, item
        assert "ANTQ" in item["summary"] and "Gửi phản hồi" not in item["summary"]
    bad_json = t("cli_summarize_bad_json", line=4, error="Expecting property name enclosed in")
    assert out[3]["error"].startswith(bad_json)
    assert out[4]["error"] == t("cli_summarize_not_object", line=6)
    assert out[5]["error"] == t("cli_summarize_no_text")
    assert out[6]["error"].startswith("không tải được bài viết") and "summary" not in out[6]
    assert "error" in out[7]
    assert out[8]["error"] == t("cli_summarize_no_main_text")
    assert out[9]["summary"]
    assert "mục/giây" not in proc.stderr  # a short input gets no progress lines


def test_summarize_max_chars(tmp_path: Path) -> None:
    stdin = jsonl({"title": PORTAL_TITLE, "body": BODY})
    short = json.loads(run(tmp_path, "summarize", "--max-chars", "60", stdin=stdin).stdout)
    assert len(short["summary"]) <= 60
    bad = run(tmp_path, "summarize", "--max-chars", "5", stdin=stdin)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "--max-chars" in bad.stderr


def test_summarize_reports_progress_on_long_runs(tmp_path: Path) -> None:
    with FeedServer() as fs:
        slow = fs.add("/slow.html", body=PORTAL_PAGE.encode()[:2000], headers=HTML, drip=0.0012)
        stdin = jsonl(
            {"title": PORTAL_TITLE, "url": slow}, *({"title": "T", "body": BODY} for _ in range(5))
        )
        proc = run(tmp_path, "summarize", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 6
    assert "mục/giây" in proc.stderr  # "Đã tóm tắt N mục (R mục/giây, E lỗi)…"
    assert "Xong: 6 mục" in proc.stderr


# --- OPML --------------------------------------------------------------------------------------

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Nguồn tin</title></head><body>
  <outline text="Tin địa phương">
    <outline type="rss" text="Huyện Chiêm Hóa" xmlUrl="https://chiemhoa.tuyenquang.gov.vn/rss"/>
    <outline text="Xã"><outline type="rss" text="Xã Tân An" xmlUrl="http://tanan.gov.vn/rss"/>
    </outline>
  </outline>
  <outline type="rss" text="Báo Tuyên Quang" xmlUrl="https://baotuyenquang.com.vn/rss"/>
  <outline type="rss" text="https://khong-ten.gov.vn/rss" xmlUrl="https://khong-ten.gov.vn/rss"/>
  <outline type="rss" text="Tệp" xmlUrl="file:///etc/passwd"/>
</body></opml>
"""


def _feeds(tmp_path: Path, db: str) -> list[tuple[str, str | None, str | None]]:
    proc = run(tmp_path, "feeds", "list", "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    return sorted((f["url"], f["name"], f["category"]) for f in json.loads(proc.stdout))


def test_import_export_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "nguon-tin.opml"
    source.write_text(OPML, encoding="utf-8")
    added = run(tmp_path, "feeds", "add", "http://tanan.gov.vn/rss", "--name", "Đã có")
    assert added.returncode == 0, added.stderr

    first = run(tmp_path, "feeds", "import-opml", str(source))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == t("cli_opml_imported", added=3, skipped=1, invalid=1)
    again = run(tmp_path, "feeds", "import-opml", str(source))
    assert again.stdout.strip() == t("cli_opml_imported", added=0, skipped=4, invalid=1)

    feeds = _feeds(tmp_path, "bantin.db")
    assert feeds == [
        ("http://tanan.gov.vn/rss", "Đã có", None),  # an existing feed is left as it was
        ("https://baotuyenquang.com.vn/rss", "Báo Tuyên Quang", None),
        ("https://chiemhoa.tuyenquang.gov.vn/rss", "Huyện Chiêm Hóa", "Tin địa phương"),
        ("https://khong-ten.gov.vn/rss", None, None),
    ]

    exported = run(tmp_path, "feeds", "export-opml")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("<?xml") and 'version="2.0"' in exported.stdout
    assert "Huyện Chiêm Hóa" in exported.stdout
    assert len(parse_opml(exported.stdout.encode("utf-8")).feeds) == 4

    to_file = run(tmp_path, "feeds", "export-opml", "-o", "xuat.opml")
    assert to_file.returncode == 0 and to_file.stdout == ""
    assert t("cli_opml_exported", count=4, path="xuat.opml") in to_file.stderr

    into_fresh = run(tmp_path, "feeds", "import-opml", "xuat.opml", db="fresh.db")
    assert into_fresh.stdout.strip() == t("cli_opml_imported", added=4, skipped=0, invalid=0)
    assert _feeds(tmp_path, "fresh.db") == feeds


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "x">]><opml/>', "DOCTYPE"),
        ("<opml><body><outline", "not valid XML"),
        ("<rss/>", "not an OPML file"),
    ],
)
def test_import_refuses_bad_files_with_one_line(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "x.opml"
    path.write_text(content, encoding="utf-8")
    proc = run(tmp_path, "feeds", "import-opml", str(path))
    assert proc.returncode == 2
    assert reason in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bantin.db").exists()


def test_import_missing_file(tmp_path: Path) -> None:
    proc = run(tmp_path, "feeds", "import-opml", "khong-co.opml")
    assert proc.returncode == 2
    assert "khong-co.opml" in proc.stderr

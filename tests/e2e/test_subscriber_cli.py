"""`bantin topics …`, `bantin qr` and `bantin broadcast --urgent` as subprocesses."""

from __future__ import annotations

from pathlib import Path

from storage.store import Store
from tests.e2e.conftest import Bantin

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_topics_map_and_invitation_qr(bantin: Bantin, tmp_path: Path) -> None:
    assert bantin("topics", "add", "An ninh").returncode == 0
    assert bantin("topics", "map", "An ninh - Quốc phòng", "An ninh").returncode == 0
    listed = bantin("topics", "list", env={"BANTIN_BOT_USERNAME": "bantin_bot"})
    assert listed.returncode == 0
    assert "An ninh" in listed.stdout and "https://t.me/bantin_bot?start=t1" in listed.stdout

    png = tmp_path / "invite.png"
    made = bantin(
        "qr", "--topic", "An ninh", "--out", str(png), env={"BANTIN_BOT_USERNAME": "bantin_bot"}
    )
    assert made.returncode == 0, made.stderr
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 200
    assert "https://t.me/bantin_bot?start=t1" in made.stdout

    # Neither or both of --topic / --source, or no bot name: a clear refusal, no file.
    assert (
        bantin(
            "qr", "--out", str(tmp_path / "x.png"), env={"BANTIN_BOT_USERNAME": "bantin_bot"}
        ).returncode
        == 2
    )
    assert bantin("qr", "--topic", "An ninh", "--out", str(tmp_path / "y.png")).returncode == 2
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_urgent_broadcast_is_marked(bantin: Bantin) -> None:
    async def seed(store: Store) -> None:
        await store.subscribers.subscribe("telegram", "1")

    bantin.with_store(seed)
    done = bantin("broadcast", "Cảnh báo lũ quét", "--yes", "--urgent")
    assert done.returncode == 0, done.stderr

    async def urgent(store: Store) -> bool:
        [ann] = await store.announcements.recent()
        return await store.announcements.is_urgent(ann.id)

    assert bantin.with_store(urgent)

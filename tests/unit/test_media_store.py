"""The local media store, keys, the retry schedule, Zalo's photo hosts and the photo field a
card gets on each platform (jobs/media/, bot/adapters/zalo/files.py, jobs/channel.py)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.zalo.files import ZaloPhotos
from jobs.channel import OutMessage, PhotoUpload, without_foreign_photo
from jobs.media.fetcher import FetchPolicy, photo_for, retry_at
from jobs.media.store import (
    LocalMediaStore,
    MediaError,
    MediaMissing,
    checked_key,
    default_media_dir,
    media_store,
)
from storage.records import CasePhoto

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


async def test_local_store_round_trip(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path / "media")
    key = await media.put(b"\xff\xd8\xffjpeg bytes", "image/jpeg")
    assert checked_key(key) == key and key.endswith(".jpg")
    assert await media.exists(key)
    assert await media.get(key) == b"\xff\xd8\xffjpeg bytes"
    path = tmp_path / "media" / key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # personal data: the owner only
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    assert await media.url(key) is None  # a folder has no public side
    await media.delete(key)
    await media.delete(key)  # twice is fine (erasure may run again)
    assert not await media.exists(key)
    with pytest.raises(MediaMissing):
        await media.get(key)


@pytest.mark.parametrize(
    "key",
    [
        "../bantin.db",
        "2026/12/../../etc/passwd",
        "/etc/passwd",
        "2026/12/" + "a" * 32 + ".exe",
        "2026/12/" + "A" * 32 + ".jpg",
        "2026\\12\\" + "a" * 32 + ".jpg",
        "",
    ],
)
async def test_keys_cannot_leave_the_folder(tmp_path: Path, key: str) -> None:
    media = LocalMediaStore(tmp_path)
    for call in (media.get(key), media.delete(key), media.exists(key)):
        with pytest.raises(MediaError):
            await call


async def test_unsupported_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        await LocalMediaStore(tmp_path).put(b"<svg/>", "image/svg+xml")


def test_default_folder_sits_next_to_the_sqlite_file(tmp_path: Path) -> None:
    assert default_media_dir(f"sqlite:///{tmp_path}/bantin.db") == tmp_path / "media"
    assert default_media_dir("postgresql://db/bantin") == Path("media").resolve()
    store = media_store(directory=None, database_url=f"sqlite:///{tmp_path}/x.db")
    assert isinstance(store, LocalMediaStore) and store.root == tmp_path / "media"


def test_retry_pauses_grow_then_give_up() -> None:
    policy = FetchPolicy(attempts=4, first_pause=timedelta(minutes=1))

    def photo(attempts: int) -> CasePhoto:
        return CasePhoto(1, 1, None, "telegram", "f", None, attempts=attempts)

    assert retry_at(photo(1), NOW, policy) == NOW + timedelta(minutes=1)
    assert retry_at(photo(2), NOW, policy) == NOW + timedelta(minutes=2)
    assert retry_at(photo(3), NOW, policy) == NOW + timedelta(minutes=4)
    assert retry_at(photo(4), NOW, policy) is None
    many = FetchPolicy(attempts=50)
    assert retry_at(photo(40), NOW, many) == NOW + timedelta(hours=6)  # capped


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://f20-zpc.zdn.vn/1234/photo.jpg", True),
        ("https://s240-ava-talk.zadn.vn/a/b.jpg", True),
        ("http://f20-zpc.zdn.vn/1234/photo.jpg", False),  # plain http to the CDN
        ("https://zdn.vn.evil.example/photo.jpg", False),
        ("https://evil.example/?u=https://f20-zpc.zdn.vn/x.jpg", False),
        ("https://user:pw@f20-zpc.zdn.vn/x.jpg", False),
        ("http://169.254.169.254/latest/meta-data/", False),
        ("http://127.0.0.1:9000/photos/a.jpg", True),  # listed with its port below
        ("http://127.0.0.1:9001/photos/a.jpg", False),
        ("file:///etc/passwd", False),
        ("AgADBAADs6gxG", False),  # a Telegram file id is no URL
    ],
)
def test_zalo_photo_hosts(url: str, allowed: bool) -> None:
    photos = ZaloPhotos(["*.zdn.vn", "*.zadn.vn", "127.0.0.1:9000"])
    assert photos.allowed(url) is allowed


async def test_zalo_download_refuses_unlisted_hosts_without_connecting() -> None:
    from jobs.channel import Rejected

    with pytest.raises(Rejected, match="not on a Zalo photo host"):
        await ZaloPhotos().download("http://127.0.0.1:1/x.jpg", max_bytes=1000)


async def test_listed_host_on_a_private_address_is_still_refused() -> None:
    """A listed name is not enough: the address guard refuses loopback unless allowed."""
    from jobs.channel import Rejected

    with pytest.raises(Rejected, match="refused"):
        await ZaloPhotos(["127.0.0.1:9"]).download("http://127.0.0.1:9/x.jpg", max_bytes=1000)


def _photo(platform: str, *, key: str | None = None, erased: bool = False) -> CasePhoto:
    return CasePhoto(
        id=7,
        case_id=3,
        message_id=None,
        platform=platform,
        file_ref=None if erased else "AgADfileid",
        media_key=key,
        content_type="image/jpeg",
        erased_at=NOW if erased else None,
    )


async def test_photo_field_per_platform(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path)
    key = await media.put(b"\xff\xd8\xffours", "image/jpeg")
    same = await photo_for("telegram", _photo("telegram", key=key), media)
    assert (same.photo_url, same.photo_platform, same.photo_upload) == (
        "AgADfileid",
        "telegram",
        None,
    )
    upload = await photo_for("telegram", _photo("zalo", key=key), media)
    assert upload.photo_url is None and upload.photo_upload == PhotoUpload(b"\xff\xd8\xffours")
    unfetched = await photo_for("telegram", _photo("zalo"), media)
    assert unfetched.photo_platform == "zalo" and unfetched.photo_upload is None  # a note
    # Zalo cannot upload; a local store has no public link: the platform's reference (a note).
    to_zalo = await photo_for("zalo", _photo("telegram", key=key), media, public_links=True)
    assert to_zalo.photo_platform == "telegram" and to_zalo.photo_upload is None
    assert await photo_for("zalo", _photo("telegram", key=key, erased=True), media) == (
        type(to_zalo)()
    )


def test_foreign_photo_with_an_upload() -> None:
    upload = PhotoUpload(b"bytes")
    message = OutMessage("Thẻ", photo_url="zalo-url", photo_platform="zalo", photo_upload=upload)
    uploaded = without_foreign_photo(message, "telegram", can_upload=True)
    assert uploaded.photo_url is None and uploaded.photo_upload == upload
    assert uploaded.text == "Thẻ"  # no note: the photo goes as bytes
    noted = without_foreign_photo(message, "zalo_oa")
    assert noted.photo_upload is None and noted.text != "Thẻ"

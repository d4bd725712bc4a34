"""Photos of cases, end to end on a real SQLite file and fake platform servers on loopback:
fetched from Telegram (getFile + file URL) and Zalo (a CDN URL), stripped of EXIF and stored;
retried then marked failed; erased; pruned by retention; re-uploaded to another platform; and
the same against an S3 server (moto) on loopback."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from bot.adapters.zalo.bot_platform import ZaloBotChannel, ZaloBotClient
from bot.adapters.zalo.files import ZaloPhotos
from jobs.channel import OutMessage, PhotoUpload
from jobs.media.fetcher import (
    FetchPolicy,
    PhotoField,
    erase_subscriber_photos,
    fetch_photos,
    photo_for,
    prune_photos,
)
from jobs.media.store import LocalMediaStore, MediaStore, S3MediaStore
from storage.feedback import RateLimit
from storage.records import Feedback
from storage.store import Store
from tests.fakes.clock import FakeClock
from tests.fakes.net import free_port
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot, FakeZaloCdn
from tests.unit.test_media_images import gps_jpeg

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
POLICY = FetchPolicy(attempts=3, first_pause=timedelta(minutes=1))


@pytest.fixture
async def telegram(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


@pytest.fixture
def cdn() -> Iterator[FakeZaloCdn]:
    with FakeZaloCdn() as fake:
        yield fake


@pytest.fixture
async def zalo(cdn: FakeZaloCdn) -> AsyncIterator[ZaloBotChannel]:
    with FakeZaloBot() as api:
        channel = ZaloBotChannel(ZaloBotClient(api.token, api.api_url))
        # The fake CDN is on loopback: listed as a photo host and allowed as a private one.
        channel.photos = ZaloPhotos([cdn.host], [cdn.host])
        yield channel
        await channel.aclose()


async def new_case(store: Store, platform: str, chat_id: str) -> Feedback:
    sub, _ = await store.subscribers.subscribe(platform, chat_id)
    case = await store.feedback.file(
        sub.id, None, "Ổ gà trước số 12 Hàng Bông", limit=RateLimit(100, 60), now=NOW
    )
    assert isinstance(case, Feedback)
    return case


def no_exif(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return not image.getexif() and "exif" not in image.info and b"Exif" not in data


async def test_a_cases_two_telegram_photos_are_fetched_stripped_and_stored(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    case = await new_case(store, "telegram", "501")
    for file_id in ("AgADphoto1", "AgADphoto2"):
        telegram_api.put_file(file_id, gps_jpeg())  # type: ignore[attr-defined]
        await store.photos.record(case.id, "telegram", file_id, now=NOW)
    await store.photos.record(case.id, "telegram", "AgADphoto1", now=NOW)  # a repeat: once
    media = LocalMediaStore(tmp_path / "media")

    report = await fetch_photos(store, {"telegram": telegram}, media, now=NOW, policy=POLICY)

    assert report.fetched == 2 and telegram_api.file_downloads == 2  # type: ignore[attr-defined]
    photos = await store.photos.of_case(case.id)
    assert len(photos) == 2
    for photo in photos:
        assert photo.media_key and photo.fetched_at == NOW and photo.error is None
        assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 64, 48)
        data = await media.get(photo.media_key)
        assert photo.size == len(data) and no_exif(data)
    again = await fetch_photos(store, {"telegram": telegram}, media, now=NOW, policy=POLICY)
    assert again.fetched == 0  # nothing left to fetch


async def test_a_zalo_photo_is_fetched_from_the_cdn_only(
    store: Store, zalo: ZaloBotChannel, cdn: FakeZaloCdn, tmp_path: Path
) -> None:
    case = await new_case(store, "zalo", "z-1")
    good = cdn.put("a.jpg", gps_jpeg())
    elsewhere = good.replace(cdn.host, f"127.0.0.1:{free_port()}")  # not a Zalo photo host
    await store.photos.record(case.id, "zalo", good, now=NOW)
    await store.photos.record(case.id, "zalo", elsewhere, now=NOW)
    media = LocalMediaStore(tmp_path / "media")

    report = await fetch_photos(store, {"zalo": zalo}, media, now=NOW, policy=POLICY)

    assert (report.fetched, report.failed) == (1, 1) and cdn.downloads == 1
    fetched, refused = await store.photos.of_case(case.id)
    assert fetched.media_key and no_exif(await media.get(fetched.media_key))
    assert refused.media_key is None and "not on a Zalo photo host" in (refused.error or "")
    assert [p.id for p in await store.photos.failed()] == [refused.id]  # given up at once


async def test_a_failing_download_is_retried_then_marked_failed(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    case = await new_case(store, "telegram", "502")
    telegram_api.put_file("AgADflaky", gps_jpeg(), failures=1)  # type: ignore[attr-defined]
    telegram_api.put_file("AgADbroken", gps_jpeg(), failures=99)  # type: ignore[attr-defined]
    flaky = await store.photos.record(case.id, "telegram", "AgADflaky", now=NOW)
    broken = await store.photos.record(case.id, "telegram", "AgADbroken", now=NOW)
    media, clock = LocalMediaStore(tmp_path / "media"), FakeClock(NOW)
    channels = {"telegram": telegram}

    first = await fetch_photos(store, channels, media, now=clock(), policy=POLICY)
    assert (first.fetched, first.retried) == (0, 2)
    assert (await fetch_photos(store, channels, media, now=clock(), policy=POLICY)).retried == 0
    clock.advance(minutes=1)  # the first pause
    second = await fetch_photos(store, channels, media, now=clock(), policy=POLICY)
    assert (second.fetched, second.retried) == (1, 1)
    clock.advance(minutes=2)  # the pause doubled; the third attempt is the last
    third = await fetch_photos(store, channels, media, now=clock(), policy=POLICY)
    assert (third.fetched, third.retried, third.failed) == (0, 0, 1)
    clock.advance(hours=24)
    assert (await fetch_photos(store, channels, media, now=clock(), policy=POLICY)).failed == 0

    flaky_now, broken_now = await store.photos.get(flaky.id), await store.photos.get(broken.id)
    assert flaky_now is not None and flaky_now.media_key and flaky_now.error is None
    assert broken_now is not None and broken_now.media_key is None
    assert broken_now.attempts == 3 and "HTTP 500" in (broken_now.error or "")
    assert "123:TEST" not in (broken_now.error or "")  # the token never reaches the row
    assert [p.id for p in await store.photos.failed()] == [broken.id]


async def test_a_file_that_is_no_photo_is_refused_at_once(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    case = await new_case(store, "telegram", "503")
    telegram_api.put_file("AgADtext", b"Day khong phai anh")  # type: ignore[attr-defined]
    photo = await store.photos.record(case.id, "telegram", "AgADtext", now=NOW)
    report = await fetch_photos(
        store, {"telegram": telegram}, LocalMediaStore(tmp_path), now=NOW, policy=POLICY
    )
    assert report.failed == 1
    row = await store.photos.get(photo.id)
    assert row is not None and row.attempts == 1 and "not_image" in (row.error or "")


async def fetched_case(
    store: Store, telegram: TelegramChannel, tg: FakeTelegram, media: MediaStore, chat: str
) -> tuple[Feedback, list[str]]:
    case = await new_case(store, "telegram", chat)
    for n in (1, 2):
        tg.put_file(f"AgAD{chat}-{n}", gps_jpeg())  # type: ignore[attr-defined]
        await store.photos.record(case.id, "telegram", f"AgAD{chat}-{n}", now=NOW)
    await fetch_photos(store, {"telegram": telegram}, media, now=NOW, policy=POLICY)
    keys = [p.media_key for p in await store.photos.of_case(case.id) if p.media_key]
    assert len(keys) == 2
    return case, keys


async def test_erasure_deletes_the_stored_objects(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    media = LocalMediaStore(tmp_path / "media")
    mine, my_keys = await fetched_case(store, telegram, telegram_api, media, "601")
    _other, other_keys = await fetched_case(store, telegram, telegram_api, media, "602")

    assert await erase_subscriber_photos(store, media, mine.subscriber_id, now=NOW) == 2

    for key in my_keys:
        assert not await media.exists(key)
    for key in other_keys:
        assert await media.exists(key)  # another citizen's photos stay
    assert await store.photos.of_case(mine.id) == []
    erased = await store.photos.of_case(mine.id, with_erased=True)
    assert all(p.erased_at and p.media_key is None and p.file_ref is None for p in erased)
    assert await erase_subscriber_photos(store, media, mine.subscriber_id, now=NOW) == 0
    # A photo erased while its download was in flight leaves no object behind.
    late = await store.photos.record(mine.id, "telegram", "AgADlate", now=NOW)
    telegram_api.put_file("AgADlate", gps_jpeg())  # type: ignore[attr-defined]
    [claimed] = await store.photos.claim_unfetched(NOW)
    assert claimed.id == late.id
    await erase_subscriber_photos(store, media, mine.subscriber_id, now=NOW)
    from jobs.media.fetcher import fetch_one

    await fetch_one(store, {"telegram": telegram}, media, claimed, now=NOW, policy=POLICY)
    assert sorted(p.name for p in (tmp_path / "media").rglob("*.jpg")) == sorted(
        Path(k).name for k in other_keys
    )


async def test_retention_deletes_photos_of_cases_closed_long_ago(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    media = LocalMediaStore(tmp_path / "media")
    old, old_keys = await fetched_case(store, telegram, telegram_api, media, "701")
    recent, recent_keys = await fetched_case(store, telegram, telegram_api, media, "702")
    _still_open, open_keys = await fetched_case(store, telegram, telegram_api, media, "703")
    assert await store.feedback.close(old.id, now=NOW - timedelta(days=400))
    assert await store.feedback.close(recent.id, now=NOW - timedelta(days=10))

    assert await prune_photos(store, media, now=NOW, days=365) == 2
    assert await prune_photos(store, media, now=NOW, days=0) == 0  # 0 keeps them

    assert [await media.exists(k) for k in old_keys] == [False, False]
    assert all([await media.exists(k) for k in recent_keys + open_keys])
    assert await store.photos.of_case(old.id) == []


async def test_a_zalo_photo_is_uploaded_to_telegram(
    store: Store,
    telegram: TelegramChannel,
    telegram_api: FakeTelegram,
    zalo: ZaloBotChannel,
    cdn: FakeZaloCdn,
    tmp_path: Path,
) -> None:
    """A card about a Zalo citizen's case goes to a Telegram staff chat: Telegram cannot use a
    Zalo URL as a file id, so our stored copy (no EXIF) is uploaded."""
    media = LocalMediaStore(tmp_path / "media")
    case = await new_case(store, "zalo", "z-2")
    await store.photos.record(case.id, "zalo", cdn.put("b.jpg", gps_jpeg()), now=NOW)
    await fetch_photos(store, {"zalo": zalo}, media, now=NOW, policy=POLICY)
    [photo] = await store.photos.of_case(case.id)
    assert photo.media_key is not None

    field = await photo_for("telegram", photo, media)
    await telegram.send("-500", field.apply(OutMessage("Phản ánh mới: ổ gà")))

    [(chat, data, _name)] = telegram_api.uploads  # type: ignore[attr-defined]
    assert chat == -500 and data == await media.get(photo.media_key) and no_exif(data)
    [sent] = telegram_api.sent
    assert sent.method == "sendPhoto" and sent.caption == "Phản ánh mới: ổ gà"
    # Back on Zalo the citizen's own URL is used: nothing uploaded, nothing downloaded again.
    back = await photo_for("zalo", photo, media)
    assert back.photo_url == photo.file_ref and back.photo_upload is None


# -- S3: the same, against moto's S3 server on loopback --------------------------------------


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
async def s3(s3_endpoint: str) -> AsyncIterator[S3MediaStore]:
    media = S3MediaStore(
        endpoint_url=s3_endpoint,
        bucket="bantin-media",
        region="ap-southeast-1",
        access_key="AKIATESTKEY",
        secret_key="test-secret-key",
        prefix="bantin/",
    )
    await media.ensure_bucket()
    yield media
    await media.aclose()


async def test_s3_store_fetch_erase_and_links(
    store: Store,
    telegram: TelegramChannel,
    telegram_api: FakeTelegram,
    zalo: ZaloBotChannel,
    s3: S3MediaStore,
) -> None:
    case, keys = await fetched_case(store, telegram, telegram_api, s3, "801")
    for key in keys:
        assert await s3.exists(key) and no_exif(await s3.get(key))
    # Zalo Bot cannot upload: with public links it gets a presigned link to our copy.
    [first, _] = await store.photos.of_case(case.id)
    field = await photo_for("zalo", first, s3, public_links=True)
    assert field.photo_url and field.photo_platform is None and "bantin/" in field.photo_url
    assert "test-secret-key" not in field.photo_url
    import httpx

    async with httpx.AsyncClient() as client:  # the link works (moto on loopback)
        assert (await client.get(field.photo_url)).content == await s3.get(keys[0])

    assert await erase_subscriber_photos(store, s3, case.subscriber_id, now=NOW) == 2
    assert [await s3.exists(k) for k in keys] == [False, False]


async def test_a_telegram_photo_is_uploaded_to_a_zalo_oa_citizen(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    """A staff answer with the case's Telegram photo, to a citizen on the Zalo OA: our stored
    copy is uploaded (made smaller when over Zalo's 1 MB) and sent as an image message."""
    import httpx

    from bot.adapters.zalo.official_account import PLATFORM as OA
    from bot.adapters.zalo.official_account import TokenKeeper, ZaloOAChannel
    from tests.fakes.zalo_oa_api import FakeZaloOAMedia

    media = LocalMediaStore(tmp_path / "media")
    case, _keys = await fetched_case(store, telegram, telegram_api, media, "901")
    [small, _] = await store.photos.of_case(case.id)
    big = PhotoField(photo_upload=PhotoUpload(noisy_jpeg(), "image/jpeg"))
    assert big.photo_upload is not None and len(big.photo_upload.data) > 1024 * 1024
    with FakeZaloOAMedia() as oa:
        async with httpx.AsyncClient() as http:
            keeper = TokenKeeper(
                store.zalo,
                http,
                app_id=oa.app_id,
                secret_key=oa.secret_key,
                oauth_url=oa.url,
                clock=lambda: NOW,
            )
            await keeper.seed(*oa.authorize())
            oa.follow("u1")
            await store.zalo.touch_contact(OA, "u1", NOW)
            channel = ZaloOAChannel(keeper, store.zalo, http, api_url=oa.url, clock=lambda: NOW)
            field = await photo_for(OA, small, media)
            await channel.send("u1", field.apply(OutMessage("Đã xử lý xong ổ gà")))
            await channel.send("u1", big.apply(OutMessage("Ảnh lớn")))
        uploads = [oa.uploaded[i] for _u, i in oa.attachments]
        [first, second] = oa.sent
    assert first.text == "Đã xử lý xong ổ gà" and second.text == "Ảnh lớn"  # no note
    assert small.media_key and uploads[0] == await media.get(small.media_key)
    assert len(uploads[1]) <= 1024 * 1024 and no_exif(uploads[1])


def noisy_jpeg() -> bytes:
    """A 2560 × 1920 photo of noise: well over 1 MB as a JPEG."""
    import os

    image = Image.frombytes("RGB", (640, 480), os.urandom(640 * 480 * 3)).resize((2560, 1920))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()


async def test_a_file_over_the_size_limit_is_not_downloaded(
    store: Store,
    telegram: TelegramChannel,
    telegram_api: FakeTelegram,
    zalo: ZaloBotChannel,
    cdn: FakeZaloCdn,
    tmp_path: Path,
) -> None:
    case = await new_case(store, "telegram", "904")
    telegram_api.put_file("AgADbig", gps_jpeg((400, 300)))  # type: ignore[attr-defined]
    await store.photos.record(case.id, "telegram", "AgADbig", now=NOW)
    await store.photos.record(case.id, "zalo", cdn.put("big.jpg", gps_jpeg((400, 300))), now=NOW)
    small = FetchPolicy(max_bytes=500)
    channels = {"telegram": telegram, "zalo": zalo}
    report = await fetch_photos(store, channels, LocalMediaStore(tmp_path), now=NOW, policy=small)
    assert report.failed == 2
    assert telegram_api.file_downloads == 0  # type: ignore[attr-defined]  # getFile's size
    assert all("too large" in (p.error or "") for p in await store.photos.of_case(case.id))


class BrokenPlatform:
    """A platform whose download fails in a way no adapter foresaw (a bug, not a refusal)."""

    platform = "zalo"

    async def download(self, file_ref: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
        raise RuntimeError("unexpected")


async def test_one_photo_failing_unexpectedly_does_not_stop_the_others(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    case = await new_case(store, "telegram", "905")
    bad = await store.photos.record(case.id, "zalo", "https://f1.zdn.vn/x.jpg", now=NOW)
    telegram_api.put_file("AgADgood", gps_jpeg())  # type: ignore[attr-defined]
    good = await store.photos.record(case.id, "telegram", "AgADgood", now=NOW)
    channels = {"telegram": telegram, "zalo": BrokenPlatform()}
    report = await fetch_photos(store, channels, LocalMediaStore(tmp_path), now=NOW, policy=POLICY)
    assert (report.fetched, report.retried) == (1, 1)
    bad_now, good_now = await store.photos.get(bad.id), await store.photos.get(good.id)
    assert bad_now is not None and bad_now.error == "RuntimeError"
    assert good_now is not None and good_now.media_key

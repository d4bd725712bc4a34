"""The media part of the composition root: settings → store, the fetch job on the schedule,
and a clear start-up error when S3 is configured without its library."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import settings as settings_module
from bot.app.compose import compose
from bot.app.schedule import scheduler_jobs
from bot.app.settings import Settings, SettingsError, load_settings
from jobs.media import store as media_module
from jobs.media.store import LocalMediaStore, S3MediaStore
from storage.feedback import RateLimit
from storage.records import Feedback
from tests.fakes.telegram_api import FakeTelegram
from tests.unit.test_media_images import gps_jpeg


async def test_the_scheduled_job_fetches_into_the_folder_next_to_the_database(
    tmp_path: Path, telegram_api: FakeTelegram
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/bantin.db",
        telegram_token=telegram_api.token,  # type: ignore[arg-type]
        telegram_api_url=telegram_api.api_url,
    )
    app = await compose(settings)
    try:
        jobs = scheduler_jobs(app)
        assert {"media-fetch", "media-retention"} <= set(jobs)
        assert "media" not in app.built  # nothing built until a job needs it
        sub, _ = await app.store.subscribers.subscribe("telegram", "901")
        case = await app.store.feedback.file(
            sub.id, None, "Đèn đường hỏng", limit=RateLimit(100, 60), now=app.clock()
        )
        assert isinstance(case, Feedback)
        telegram_api.put_file("AgADapp", gps_jpeg())  # type: ignore[attr-defined]
        await app.store.photos.record(case.id, "telegram", "AgADapp")
        await app.bot.initialize()  # type: ignore[attr-defined]

        fetch, _period = jobs["media-fetch"]
        await fetch()

        [photo] = await app.store.photos.of_case(case.id)
        assert isinstance(app.media, LocalMediaStore)
        assert photo.media_key and (tmp_path / "media" / photo.media_key).is_file()
        prune, _period = jobs["media-retention"]
        await prune()  # the case is open: its photo stays
        assert (tmp_path / "media" / photo.media_key).is_file()
    finally:
        await app.aclose()


def test_s3_settings_build_the_bucket_store(tmp_path: Path) -> None:
    pytest.importorskip("boto3")
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/x.db",
        media_s3_url="http://127.0.0.1:9",
        media_s3_bucket="photos",
        media_s3_access_key="AKIAEXAMPLE",
        media_s3_secret_key="very-secret-value",
    )
    assert "very-secret-value" in settings.secrets()  # scrubbed from every log line
    built = media_module.media_store(
        directory=None,
        database_url=settings.database_url,
        s3_url=settings.media_s3_url,
        bucket=settings.media_s3_bucket,
        access_key="AKIAEXAMPLE",
        secret_key="very-secret-value",
    )
    assert isinstance(built, S3MediaStore) and "very-secret-value" not in repr(built)


def test_s3_without_boto3_is_a_clear_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_module, "s3_available", lambda: False)
    with pytest.raises(SettingsError) as err:
        load_settings(media_s3_url="https://s3.example.vn", media_s3_bucket="photos")
    assert any("pip install 'bantin[s3]'" in line for line in err.value.lines)
    with pytest.raises(SettingsError) as err:
        load_settings(media_s3_url="https://s3.example.vn")
    assert any("BANTIN_MEDIA_S3_BUCKET" in line for line in err.value.lines)
    with pytest.raises(SettingsError) as err:
        load_settings(
            media_s3_url="https://s3.example.vn", media_s3_bucket="b", media_s3_secret_key="x"
        )
    assert any("go together" in line for line in err.value.lines)
    assert not any("x" == line for line in err.value.lines)
    assert settings_module  # the settings module is the one under test


async def test_zalo_photo_hosts_come_from_the_settings(tmp_path: Path) -> None:
    from tests.fakes.zalo_bot_api import FakeZaloBot, FakeZaloCdn

    with FakeZaloBot() as api, FakeZaloCdn() as cdn:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/bantin.db",
            zalo_bot_token=api.token,  # type: ignore[arg-type]
            zalo_api_url=api.api_url,
            media_dir=str(tmp_path / "photos"),
            zalo_photo_hosts=[cdn.host],
            allow_private_hosts=[cdn.host],
        )
        app = await compose(settings)
        try:
            sub, _ = await app.store.subscribers.subscribe("zalo", "z-9")
            case = await app.store.feedback.file(
                sub.id, None, "Cây đổ", limit=RateLimit(100, 60), now=app.clock()
            )
            assert isinstance(case, Feedback)
            await app.store.photos.record(case.id, "zalo", cdn.put("tree.jpg", gps_jpeg()))
            await app.fetch_photos()
            [photo] = await app.store.photos.of_case(case.id)
            assert photo.media_key and (tmp_path / "photos" / photo.media_key).is_file()
            assert cdn.downloads == 1
        finally:
            await app.aclose()

"""The photo fetcher: a periodic job that downloads the photos citizens sent with their cases,
re-encodes them without EXIF (jobs/media/images.py) and keeps them in the media store; and the
other ways photos leave: erasure on request, retention, and re-upload to another platform.

Why a job and not the intake: a download may take seconds and fail; the citizen's case must be
stored (and the citizen answered) at once, whatever the platform's file server does. The job
claims a few photos at a time (storage/photos.py), each for a lease, so a crash or a second
scheduler never loses or doubles one.

A failed download is tried again with a growing pause (1 minute, 2, 4 … at most 6 hours) up to
BANTIN_MEDIA_FETCH_ATTEMPTS times, then marked failed with its error. A refusal that cannot
change — a file that is not a photo, too large, gone from the platform, on a host Zalo does not
serve photos from — is marked failed at once. Staff still see the platform's copy where the
platform keeps it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from jobs.channel import ChannelError, OutMessage, PhotoUpload, Rejected, downloader
from jobs.media.images import MAX_BYTES, MAX_PIXELS, MAX_SIDE, ImageRefused, prepare
from jobs.media.store import MediaError, MediaStore
from storage.records import CasePhoto
from storage.store import Store

log = logging.getLogger(__name__)

# Platforms whose channel uploads our stored bytes (Telegram: sendPhoto multipart; Zalo OA:
# upload/image, then an image message). Zalo's Bot Platform sends photos by URL only: it gets a
# public link (BANTIN_MEDIA_PUBLIC_LINKS) or, without one, the text says where to see the photo.
UPLOADS = frozenset({"telegram", "zalo_oa"})
MAX_PAUSE = timedelta(hours=6)


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS
    max_side: int = MAX_SIDE
    attempts: int = 5  # BANTIN_MEDIA_FETCH_ATTEMPTS
    timeout: float = 30.0  # one download, seconds
    first_pause: timedelta = timedelta(minutes=1)  # before the second try; doubles after
    batch: int = 10  # photos claimed per run
    lease: timedelta = timedelta(minutes=15)  # > batch × timeout: a claim outlives its run


@dataclass
class FetchReport:
    fetched: int = 0
    retried: int = 0
    failed: int = 0  # given up


def retry_at(photo: CasePhoto, now: datetime, policy: FetchPolicy) -> datetime | None:
    """When to try `photo` again after a failed attempt (its `attempts` counts this one);
    None once it has had all its attempts."""
    if photo.attempts >= policy.attempts:
        return None
    pause = policy.first_pause * (2 ** max(0, photo.attempts - 1))
    return now + min(pause, MAX_PAUSE)


async def fetch_photos(
    store: Store,
    channels: Mapping[str, object],
    media: MediaStore,
    *,
    now: datetime,
    policy: FetchPolicy = FetchPolicy(),
) -> FetchReport:
    """One run: claim due photos and fetch each (see the module doc)."""
    report = FetchReport(failed=await store.photos.give_up_interrupted(policy.attempts, now))
    for photo in await store.photos.claim_unfetched(now, limit=policy.batch, lease=policy.lease):
        try:
            outcome = await fetch_one(store, channels, media, photo, now=now, policy=policy)
        except Exception as err:  # one photo never stops the others; it is retried
            log.exception("photo fetch failed", extra={"photo": photo.id})
            when = retry_at(photo, now, policy)
            await store.photos.mark_failed(photo.id, f"{type(err).__name__}", retry_at=when)
            outcome = "retry" if when is not None else "failed"
        if outcome == "fetched":
            report.fetched += 1
        elif outcome == "retry":
            report.retried += 1
        else:
            report.failed += 1
    if report.fetched or report.retried or report.failed:
        log.info(
            "photos fetched",
            extra={"fetched": report.fetched, "retried": report.retried, "failed": report.failed},
        )
    return report


async def fetch_one(
    store: Store,
    channels: Mapping[str, object],
    media: MediaStore,
    photo: CasePhoto,
    *,
    now: datetime,
    policy: FetchPolicy,
) -> str:
    """Fetch one claimed photo: "fetched", "retry" or "failed" (given up)."""

    async def fail(error: str, *, final: bool = False) -> str:
        when = None if final else retry_at(photo, now, policy)
        await store.photos.mark_failed(photo.id, error, retry_at=when)
        log.warning(
            "photo not fetched",
            extra={"photo": photo.id, "case": photo.case_id, "error": error, "final": when is None},
        )
        return "retry" if when is not None else "failed"

    source = downloader(channels.get(photo.platform))
    if source is None or not photo.file_ref:
        return await fail(f"no {photo.platform} channel can download this photo")
    try:
        data = await source.download(
            photo.file_ref, max_bytes=policy.max_bytes, timeout=policy.timeout
        )
    except Rejected as err:
        return await fail(err.description, final=True)
    except ChannelError as err:
        return await fail(err.description)
    try:
        prepared = await asyncio.to_thread(
            prepare,
            data,
            max_bytes=policy.max_bytes,
            max_pixels=policy.max_pixels,
            max_side=policy.max_side,
        )
    except ImageRefused as err:
        return await fail(f"refused ({err.reason}): {err.detail}", final=True)
    try:
        key = await media.put(prepared.data, prepared.content_type)
    except MediaError as err:
        return await fail(str(err))
    stored = await store.photos.mark_fetched(
        photo.id,
        media_key=key,
        content_type=prepared.content_type,
        size=len(prepared.data),
        width=prepared.width,
        height=prepared.height,
        now=now,
    )
    if not stored:  # erased while we fetched: our copy must not outlive the request
        await _delete_quietly(media, key)
    return "fetched"


async def _delete_quietly(media: MediaStore, key: str) -> bool:
    try:
        await media.delete(key)
    except MediaError as err:
        log.warning("media object not deleted", extra={"error": str(err)})
        return False
    return True


async def _delete_objects(store: Store, media: MediaStore, photos: list[CasePhoto]) -> int:
    """Delete the stored objects of erased photos; forget the keys of those deleted (the others
    stay pending and are deleted by the next erasure or retention run)."""
    done = [p.id for p in photos if p.media_key and await _delete_quietly(media, p.media_key)]
    await store.photos.forget_objects(done)
    return len(done)


async def erase_subscriber_photos(
    store: Store, media: MediaStore, subscriber_id: int, *, now: datetime | None = None
) -> int:
    """`/xoadulieu`: every photo of the citizen's cases is erased — its platform reference at
    once, our stored copy deleted from the media store. Returns how many stored copies were
    deleted. Safe to call again (an object whose deletion failed is deleted then)."""
    from storage.models import utcnow

    photos = await store.photos.erase_of_subscriber(subscriber_id, now or utcnow())
    return await _delete_objects(store, media, photos)


async def prune_photos(
    store: Store, media: MediaStore, *, now: datetime, days: int, batch: int = 500
) -> int:
    """Retention: photos of cases closed (any final state) more than `days` ago are erased
    and their stored copies deleted (BANTIN_RETENTION_PHOTO_DAYS; 0 keeps them)."""
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    deleted = 0
    for _ in range(100):  # bounded: objects that cannot be deleted are retried next run
        photos = await store.photos.erase_closed_before(cutoff, now, limit=batch)
        n = await _delete_objects(store, media, photos)
        deleted += n
        if len(photos) < batch or n == 0:
            break
        await asyncio.sleep(0)
    if deleted:
        log.info("retention: photos deleted", extra={"photos": deleted})
    return deleted


@dataclass(frozen=True)
class PhotoField:
    """The photo fields of an OutMessage (photo_url, photo_platform, photo_upload)."""

    photo_url: str | None = None
    photo_platform: str | None = None
    photo_upload: PhotoUpload | None = None

    def apply(self, message: OutMessage) -> OutMessage:
        return replace(
            message,
            photo_url=self.photo_url,
            photo_platform=self.photo_platform,
            photo_upload=self.photo_upload,
        )


async def photo_for(
    platform: str,
    photo: CasePhoto | None,
    media: MediaStore,
    *,
    public_links: bool = False,
) -> PhotoField:
    """How a card or answer going to `platform` carries `photo`:
    - on the photo's own platform: its file id (nothing to upload);
    - on another platform that can upload (Telegram, Zalo OA): our stored copy's bytes;
    - on Zalo (no upload API), with public links: a link to our copy valid for an hour;
    - otherwise the platform's reference, which the channel turns into a note saying where the
      photo can be seen (jobs/channel.py `without_foreign_photo`); an erased photo: nothing."""
    if photo is None or photo.erased_at is not None:
        return PhotoField()
    if photo.platform == platform and photo.file_ref:
        return PhotoField(photo.file_ref, photo.platform)
    if photo.media_key:
        try:
            if platform in UPLOADS:
                data = await media.get(photo.media_key)
                return PhotoField(
                    photo_upload=PhotoUpload(data, photo.content_type or "image/jpeg")
                )
            if public_links:
                url = await media.url(photo.media_key)
                if url:
                    return PhotoField(url, None)
        except MediaError as err:
            log.warning("stored photo unavailable", extra={"photo": photo.id, "error": str(err)})
    if photo.file_ref:
        return PhotoField(photo.file_ref, photo.platform)
    return PhotoField()

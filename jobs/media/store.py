"""Where our copies of citizens' photos live: a local folder (the default) or an S3-compatible
bucket (BANTIN_MEDIA_S3_URL).

Why a small protocol of our own: the fetcher, erasure and retention only put, read and delete
opaque keys; which store holds them is a setting. Keys are made here, never from what a citizen
or a platform sent, and every key is checked against one pattern before it touches a path or
a bucket, so no key can climb out of the media folder (`../`), name an absolute path or reach
another prefix of the bucket.

The S3 store runs boto3's blocking calls in a worker thread; its access key and secret are
settings marked secret and appear in no error text (errors carry the S3 error code only).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# <yyyy>/<mm>/<32 hex>.<ext>: all a key can be. Checked before any path or object is touched.
KEY = re.compile(r"^[0-9]{4}/[0-9]{2}/[0-9a-f]{32}\.(jpg|png|webp)$")
T = TypeVar("T")


class MediaError(Exception):
    """A store could not do what was asked; the message is safe to store and show."""


class MediaMissing(MediaError):
    """No object under that key (deleted, or never stored)."""


def new_key(content_type: str, now: datetime | None = None) -> str:
    """A fresh random key for an object of `content_type` (only image types we produce)."""
    ext = EXTENSIONS.get(content_type)
    if ext is None:
        raise MediaError(f"unsupported content type {content_type!r}")
    at = now or datetime.now(UTC)
    return f"{at:%Y}/{at:%m}/{secrets.token_hex(16)}.{ext}"


def checked_key(key: str) -> str:
    """`key` if it is one of ours; MediaError otherwise (no traversal, no foreign names)."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise MediaError("not a media key")
    return key


def content_type_of(key: str) -> str:
    ext = checked_key(key).rsplit(".", 1)[1]
    return next(t for t, e in EXTENSIONS.items() if e == ext)


class MediaStore(Protocol):
    """Opaque keys in, bytes out. Every method raises only MediaError (or MediaMissing)."""

    kind: str  # "local" or "s3"

    async def put(self, data: bytes, content_type: str) -> str:
        """Store `data` under a new key and return the key."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (erasure may run twice)."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def url(self, key: str, expires: int = 3600) -> str | None:
        """A link anyone may fetch the object from for `expires` seconds; None when the store
        has no public side (the local folder)."""
        ...

    async def aclose(self) -> None: ...


class LocalMediaStore:
    """Objects as files under `root` (created 0700; files 0600: these are personal data).

    A put writes a temporary file in the target folder, flushes it to disk and renames it into
    place, so a reader (or a crash) never sees half an image."""

    kind = "local"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / checked_key(key)).resolve()
        if not path.is_relative_to(self.root):  # cannot happen with KEY; a second net
            raise MediaError("not a media key")
        return path

    async def put(self, data: bytes, content_type: str) -> str:
        key = new_key(content_type)
        path = self._path(key)
        await asyncio.to_thread(_write_atomic, path, data)
        return key

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise MediaMissing("no such media object") from None
        except OSError as err:
            raise MediaError(f"media read failed: {err.strerror or type(err).__name__}") from None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(path.unlink, True)
        except OSError as err:
            raise MediaError(f"media delete failed: {err.strerror or type(err).__name__}") from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def url(self, key: str, expires: int = 3600) -> str | None:
        checked_key(key)
        return None

    async def aclose(self) -> None:
        return None


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".put-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as err:
        raise MediaError(f"media write failed: {err.strerror or type(err).__name__}") from None


class S3MediaStore:
    """Objects in an S3-compatible bucket (AWS, MinIO, Ceph, Viettel/VNPT object storage...),
    under `prefix`. boto3 is an optional dependency (`pip install 'bantin[s3]'`)."""

    kind = "s3"

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        timeout: float = 30.0,
    ) -> None:
        boto3, config = _boto()
        self.bucket = bucket
        self.region = region
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        try:
            self._client: Any = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=config(
                    signature_version="s3v4",
                    s3={"addressing_style": "path"},  # S3-compatible servers: path style
                    connect_timeout=min(timeout, 10.0),
                    read_timeout=timeout,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        except Exception as err:  # a partial or malformed configuration
            raise MediaError(f"S3 media store not usable: {type(err).__name__}") from None

    def __repr__(self) -> str:
        return f"S3MediaStore(bucket={self.bucket!r})"  # never the keys

    def _object(self, key: str) -> str:
        return self.prefix + checked_key(key)

    async def _call(self, what: str, call: Callable[[], T]) -> T:
        """One boto3 call in a worker thread; its failure as a MediaError naming the S3 error
        code only (boto's texts may quote request details)."""
        failure: MediaError
        try:
            return await asyncio.to_thread(call)
        except Exception as err:
            code = _s3_code(err)
            if code in ("NoSuchKey", "404", "NotFound"):
                failure = MediaMissing("no such media object")
            else:
                failure = MediaError(f"S3 {what} failed: {code}")
        raise failure

    async def put(self, data: bytes, content_type: str) -> str:
        key = new_key(content_type)
        name = self._object(key)
        await self._call(
            "put",
            lambda: self._client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=content_type
            ),
        )
        return key

    async def get(self, key: str) -> bytes:
        name = self._object(key)

        def read() -> bytes:
            answer = self._client.get_object(Bucket=self.bucket, Key=name)
            body = answer["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        return await self._call("get", read)

    async def delete(self, key: str) -> None:
        name = self._object(key)
        await self._call("delete", lambda: self._client.delete_object(Bucket=self.bucket, Key=name))

    async def exists(self, key: str) -> bool:
        name = self._object(key)
        try:
            await self._call("head", lambda: self._client.head_object(Bucket=self.bucket, Key=name))
        except MediaMissing:
            return False
        return True

    async def url(self, key: str, expires: int = 3600) -> str | None:
        name = self._object(key)
        return await self._call(
            "presign",
            lambda: str(
                self._client.generate_presigned_url(
                    "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=expires
                )
            ),
        )

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (tests; an operator usually makes it)."""
        try:
            await self._call("head bucket", lambda: self._client.head_bucket(Bucket=self.bucket))
        except MediaError:
            where = {} if self.region == "us-east-1" else {"LocationConstraint": self.region}
            await self._call(
                "create bucket",
                lambda: self._client.create_bucket(
                    Bucket=self.bucket, **({"CreateBucketConfiguration": where} if where else {})
                ),
            )

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._client.close)


def _s3_code(err: Exception) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)[:60]
    return type(err).__name__


S3_MISSING = (
    "BANTIN_MEDIA_S3_URL is set but boto3 is not installed: pip install 'bantin[s3]' "
    "(or unset BANTIN_MEDIA_S3_URL to keep photos in BANTIN_MEDIA_DIR)"
)


def s3_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("boto3") is not None


def _boto() -> tuple[Any, Any]:
    try:
        import boto3
        import boto3.session
        from botocore.config import Config
    except ImportError:
        raise MediaError(S3_MISSING) from None
    return boto3, Config


def default_media_dir(database_url: str) -> Path:
    """Next to the SQLite database file (one folder to back up), else ./media."""
    for scheme in ("sqlite+aiosqlite:///", "sqlite:///"):
        if database_url.startswith(scheme):
            path = database_url[len(scheme) :].split("?", 1)[0]
            if path and path != ":memory:":
                return Path(path).resolve().parent / "media"
    return Path("media").resolve()


def media_store(
    *,
    directory: str | None,
    database_url: str,
    s3_url: str | None = None,
    bucket: str | None = None,
    region: str = "us-east-1",
    prefix: str = "",
    access_key: str | None = None,
    secret_key: str | None = None,
) -> MediaStore:
    """The store the settings ask for: the S3 bucket when `s3_url` is set, else the folder.
    MediaError (with S3_MISSING) when S3 is configured and boto3 is not installed."""
    if s3_url:
        if not bucket:
            raise MediaError("BANTIN_MEDIA_S3_URL needs BANTIN_MEDIA_S3_BUCKET")
        return S3MediaStore(
            endpoint_url=s3_url,
            bucket=bucket,
            region=region,
            access_key=access_key,
            secret_key=secret_key,
            prefix=prefix,
        )
    return LocalMediaStore(Path(directory) if directory else default_media_dir(database_url))

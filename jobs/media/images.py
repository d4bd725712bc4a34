"""Checks and re-encodes a citizen's photo before it is stored (pure: bytes in, bytes out).

Why re-encode rather than trust: a photo taken by a phone carries EXIF, often with the GPS
position of the citizen's home, the phone's model and the time; a file that only claims to be
an image may be anything. Every photo is therefore decoded by Pillow and written again as a new
JPEG (or PNG when it has transparency) from its pixels alone: no EXIF, no XMP, no comments, no
ICC profile survive. The EXIF orientation is applied to the pixels first, so a photo taken
sideways is stored the right way up.

What is refused, each with its reason (`ImageRefused.reason`):
- `too_large`: more bytes than BANTIN_MEDIA_MAX_BYTES (10 MB by default), before decoding;
- `not_image`: not a JPEG, PNG or WebP by its first bytes (a text file named .jpg), or a
  format Pillow reads as something else;
- `too_many_pixels`: more pixels than the limit, read from the header before any decoding, so
  a small file that would unpack into gigabytes (a decompression bomb) costs nothing;
- `corrupt`: Pillow could not decode it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

MAX_BYTES = 10_000_000
MAX_PIXELS = 50_000_000  # phones make 12-50 MP photos; more is a bomb or a poster
MAX_SIDE = 2560  # the long side of what we keep (Telegram's own largest photo size)
JPEG_QUALITY = 85
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class ImageRefused(Exception):
    """The file is not a photo we keep; `reason` is one of the codes in the module doc."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Prepared:
    """A photo ready to store: re-encoded bytes with no metadata."""

    data: bytes
    content_type: str  # image/jpeg or image/png
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The image type the first bytes announce (JPEG, PNG, WebP), None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def prepare(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int = MAX_SIDE,
) -> Prepared:
    """Check `data` and re-encode it without metadata; ImageRefused when it is not kept."""
    if len(data) > max_bytes:
        raise ImageRefused("too_large", f"the file is {len(data)} bytes, more than {max_bytes}")
    declared = sniff(data)
    if declared is None:
        raise ImageRefused("not_image", "not an image (only JPEG, PNG and WebP photos are kept)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRefused(
                "too_many_pixels", f"the image claims more than {max_pixels} pixels"
            ) from None
        except Exception as err:  # OSError, SyntaxError, ValueError, EOFError...
            raise ImageRefused(
                "not_image", f"not a readable image ({type(err).__name__})"
            ) from None
        with image:
            if FORMATS.get(image.format or "") != declared:
                raise ImageRefused("not_image", "the file's content does not match its type")
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise ImageRefused(
                    "too_many_pixels",
                    f"{width}×{height} pixels is more than the {max_pixels} allowed",
                )
            try:
                return _reencode(image, max_side)
            except MemoryError:
                raise ImageRefused("corrupt", "the image is too large to decode") from None
            except Exception as err:  # a hostile file may make any decoder step fail
                raise ImageRefused(
                    "corrupt", f"the image could not be decoded ({type(err).__name__})"
                ) from None


def _reencode(image: Image.Image, max_side: int) -> Prepared:
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))  # decode big JPEGs at a reduced scale
    image.seek(0)  # an animated WebP/PNG: its first frame
    image.load()
    upright = ImageOps.exif_transpose(image) or image  # before the EXIF is dropped
    alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    pixels = upright.convert("RGBA" if alpha else "RGB")
    pixels.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: nothing of the source's info (exif, xmp, icc,
    # comments, text chunks) can be carried along by a save.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    if alpha:
        clean.save(out, format="PNG", optimize=True)
        content_type = "image/png"
    else:
        clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        content_type = "image/jpeg"
    return Prepared(out.getvalue(), content_type, clean.width, clean.height)

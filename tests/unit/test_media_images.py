"""jobs/media/images.py: what is refused, and what comes out (no EXIF, upright, bounded)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from jobs.media.images import ImageRefused, prepare, sniff

GPS = ExifTags.IFD.GPSInfo


def gps_jpeg(size: tuple[int, int] = (64, 48), *, orientation: int | None = None) -> bytes:
    """A JPEG whose EXIF holds a GPS position (Hà Nội), a camera model and a comment."""
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((10, 10, 220), (0, 0, size[0] // 2, size[1]))  # left half blue: shows rotation
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "PhoneCam 12"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(GPS)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (21.0, 1.0, 42.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (105.0, 51.0, 12.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"secret comment")
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width × height pixels (a decompression bomb)."""
    small = io.BytesIO()
    Image.new("L", (1, 1)).save(small, format="PNG")
    data = bytearray(small.getvalue())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_gps_exif_is_stripped() -> None:
    source = gps_jpeg()
    with Image.open(io.BytesIO(source)) as before:
        assert before.getexif().get_ifd(GPS)  # the sample does carry a position
    prepared = prepare(source)
    assert prepared.content_type == "image/jpeg"
    assert b"Exif" not in prepared.data
    assert b"PhoneCam" not in prepared.data and b"secret comment" not in prepared.data
    with Image.open(io.BytesIO(prepared.data)) as after:
        assert not after.getexif()
        assert "exif" not in after.info and "comment" not in after.info
        assert after.size == (64, 48)


def test_orientation_is_applied_before_exif_goes() -> None:
    """EXIF orientation 6 (camera held sideways): the stored photo is upright, 48 × 64."""
    prepared = prepare(gps_jpeg(orientation=6))
    assert (prepared.width, prepared.height) == (48, 64)
    with Image.open(io.BytesIO(prepared.data)) as after:
        assert after.size == (48, 64)
        top = after.convert("RGB").getpixel((24, 4))
        assert isinstance(top, tuple) and top[2] > 150  # the blue half is now on top


def test_long_side_is_bounded() -> None:
    prepared = prepare(gps_jpeg((3000, 1000)), max_side=1200)
    assert (prepared.width, prepared.height) == (1200, 400)


def test_alpha_stays_png_and_webp_becomes_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(out, format="PNG")
    assert prepare(out.getvalue()).content_type == "image/png"
    out = io.BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(out, format="WEBP")
    assert prepare(out.getvalue()).content_type == "image/jpeg"


def test_text_file_named_jpg_is_refused() -> None:
    with pytest.raises(ImageRefused) as refused:
        prepare("Kính gửi UBND phường, đây không phải ảnh.".encode())
    assert refused.value.reason == "not_image"
    assert "JPEG, PNG and WebP" in refused.value.detail


def test_a_jpeg_header_on_garbage_is_refused() -> None:
    with pytest.raises(ImageRefused) as refused:
        prepare(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10)
    assert refused.value.reason in ("not_image", "corrupt")


@pytest.mark.parametrize("side", [8_000, 100_000])  # under and over Pillow's own limit
def test_decompression_bomb_is_refused_before_decoding(side: int) -> None:
    bomb = png_bomb(side, side)
    assert len(bomb) < 200 and sniff(bomb) == "image/png"
    with pytest.raises(ImageRefused) as refused:
        prepare(bomb)
    assert refused.value.reason == "too_many_pixels"


def test_oversized_file_is_refused() -> None:
    with pytest.raises(ImageRefused) as refused:
        prepare(gps_jpeg(), max_bytes=100)
    assert refused.value.reason == "too_large"

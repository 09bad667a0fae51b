import io
import struct
import time
import zlib

import blurhash
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageFile

from apps.common.images import ImageError, ImageTooLarge, NotAnImage, ProcessedImage, process_image

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_pixels": 40_000_000, "max_width": 640, "thumbnail_width": 150}


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def run(data: bytes, **overrides) -> ProcessedImage:
    return process_image(file=upload(data), **{**LIMITS, **overrides})


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> None:
    assert all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True)), (pixel, expected)


def noisy(size: tuple[int, int]) -> Image.Image:
    """Random pixels, so JPEG data is large enough to truncate meaningfully."""
    return Image.frombytes("RGB", size, bytes(i * 7919 % 251 for i in range(size[0] * size[1] * 3)))


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims width x height; the pixel data is never reached."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_jpeg_is_resized_reencoded_and_thumbnailed():
    result = run(encode(Image.new("RGB", (1200, 800), RED), "JPEG"))

    assert (result.width, result.height) == (640, 427)
    assert (result.thumbnail_width, result.thumbnail_height) == (150, 100)
    assert (result.format, result.extension) == ("JPEG", ".jpg")
    main, thumb = decoded(result.content), decoded(result.thumbnail)
    assert (main.format, main.size, main.mode) == ("JPEG", (640, 427), "RGB")
    assert (thumb.format, thumb.size) == ("JPEG", (150, 100))
    assert main.info.get("progressive") == 1
    assert_close(main.getpixel((320, 200)), RED)


def test_png_transparency_is_flattened_onto_white():
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 150, 200))
    result = run(encode(image, "PNG"), max_width=300)

    main = decoded(result.content)
    assert (main.format, main.size, main.mode) == ("JPEG", (300, 200), "RGB")
    assert_close(main.getpixel((50, 100)), BLUE)
    assert_close(main.getpixel((250, 100)), WHITE)


def test_webp_is_accepted():
    result = run(encode(Image.new("RGB", (800, 400), GREEN), "WEBP"))

    assert (result.width, result.height) == (640, 320)
    assert_close(decoded(result.content).getpixel((10, 10)), GREEN)


def test_heic_is_decoded():
    data = encode(Image.new("RGB", (400, 300), BLUE), "HEIF", quality=90)
    assert data[4:12] == b"ftypheic"

    result = run(data, max_width=200)

    assert (result.width, result.height) == (200, 150)
    main = decoded(result.content)
    assert main.format == "JPEG"
    assert_close(main.getpixel((100, 75)), BLUE)


def test_animated_image_keeps_first_frame():
    frames = [Image.new("RGB", (100, 100), RED), Image.new("RGB", (100, 100), BLUE)]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 2

    assert_close(decoded(run(data).content).getpixel((50, 50)), RED)


def test_text_named_jpg_is_not_an_image():
    with pytest.raises(NotAnImage) as excinfo:
        run(b"this is definitely not a picture\n" * 10)
    assert excinfo.value.message == NotAnImage.default_message
    assert isinstance(excinfo.value, ImageError)


def test_unsupported_format_is_refused_even_if_pillow_can_read_it():
    with pytest.raises(NotAnImage):
        run(encode(Image.new("RGB", (50, 50), RED), "GIF"))


def test_empty_file_is_not_an_image():
    with pytest.raises(NotAnImage, match="empty"):
        run(b"")


def test_truncated_jpeg_is_refused():
    data = encode(noisy((400, 300)), "JPEG", quality=95)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False

    with pytest.raises(NotAnImage):
        run(data[: len(data) // 2])


def test_decompression_bomb_is_refused_quickly():
    data = png_header(20_000, 20_000)
    assert len(data) < 1024
    max_image_pixels = Image.MAX_IMAGE_PIXELS

    started = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        run(data, max_pixels=10**12)
    assert time.perf_counter() - started < 1
    assert max_image_pixels == Image.MAX_IMAGE_PIXELS


def test_decompression_bomb_warning_is_turned_into_an_error():
    # Between Pillow's warning and error thresholds, and below our own cap.
    with pytest.raises(ImageTooLarge):
        run(png_header(10_000, 10_000), max_pixels=10**12)


def test_pixel_cap_is_checked_before_decoding():
    with pytest.raises(ImageTooLarge, match="1000000 pixels"):
        run(png_header(2000, 1000), max_pixels=1_000_000)


def test_declared_size_over_cap_is_refused_without_reading():
    class Unreadable(io.BytesIO):
        size = 11

        def read(self, *args):
            raise AssertionError("must not be read")

    with pytest.raises(ImageTooLarge, match="10 bytes"):
        process_image(file=Unreadable(), **{**LIMITS, "max_bytes": 10})


def test_read_is_capped_when_size_is_unknown():
    data = encode(noisy((200, 200)), "PNG")
    with pytest.raises(ImageTooLarge):
        process_image(file=io.BytesIO(data), **{**LIMITS, "max_bytes": len(data) - 1})
    assert process_image(file=io.BytesIO(data), **{**LIMITS, "max_bytes": len(data)}).width == 200


def test_all_metadata_is_stripped():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.5)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SECRET-XMP</x:xmpmeta>'
    data = encode(Image.new("RGB", (300, 200), RED), "JPEG", exif=exif, comment=b"SECRET-COMMENT", xmp=xmp)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    result = run(data)

    for content in (result.content, result.thumbnail):
        image = decoded(content)
        assert not image.getexif()
        assert not {"exif", "xmp", "comment", "icc_profile"} & image.info.keys()
        for marker in (b"Exif", b"SpyCam", b"SECRET-COMMENT", b"SECRET-XMP"):
            assert marker not in content


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (200, 100), BLUE)
    image.paste(RED, (0, 0, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # display rotated 90 degrees clockwise
    result = run(encode(image, "JPEG", exif=exif, quality=95))

    assert (result.width, result.height) == (100, 200)
    main = decoded(result.content)
    assert_close(main.getpixel((90, 10)), RED)
    assert_close(main.getpixel((10, 10)), BLUE)
    assert_close(main.getpixel((90, 190)), BLUE)


def test_never_upscales():
    result = run(encode(Image.new("RGB", (120, 90), RED), "PNG"))

    assert (result.width, result.height) == (120, 90)
    assert (result.thumbnail_width, result.thumbnail_height) == (120, 90)
    assert decoded(result.thumbnail).size == (120, 90)


def test_square_crop_keeps_the_centre():
    image = Image.new("RGB", (400, 200), GREEN)
    image.paste(RED, (0, 0, 100, 200))
    image.paste(BLUE, (300, 0, 400, 200))
    result = run(encode(image, "PNG"), square=True, max_width=160, thumbnail_width=50)

    assert (result.width, result.height) == (160, 160)
    assert (result.thumbnail_width, result.thumbnail_height) == (50, 50)
    main = decoded(result.content)
    for corner in ((2, 2), (157, 2), (2, 157), (157, 157)):
        assert_close(main.getpixel(corner), GREEN)


def test_blurhash_describes_the_image():
    result = run(encode(Image.new("RGB", (400, 300), RED), "JPEG"))

    assert len(result.blurhash) == 28  # 4x3 components: 1 + 1 + 4 + 2 * (4 * 3 - 1)
    assert blurhash.is_valid_blurhash(result.blurhash)
    assert_close(blurhash.decode(result.blurhash, 4, 4).getpixel((2, 2)), RED)

"""Factories for posts, likes and comments, and real in-memory images for upload tests."""

import io
import os
import struct
import zlib

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from apps.accounts.tests.factories import UserFactory
from apps.posts.models import Comment, Like, Post

RED, BLUE = (220, 30, 30), (30, 30, 220)


class PostFactory(factory.django.DjangoModelFactory):
    """A post row only: no files are stored and the author's posts_count is left alone."""

    class Meta:
        model = Post

    author = factory.SubFactory(UserFactory)
    caption = factory.Sequence(lambda n: f"Caption {n}")
    photo = factory.Sequence(lambda n: f"posts/test/{n}.jpg")
    photo_thumbnail = factory.LazyAttribute(lambda post: post.photo.replace(".jpg", "_thumb.jpg"))
    width = 1080
    height = 720
    blurhash = "LEHV6nWB2yk8pyo0adR*.7kCMdnj"


class LikeFactory(factory.django.DjangoModelFactory):
    """A like row only: the post's likes_count is left alone (the services keep it)."""

    class Meta:
        model = Like

    post = factory.SubFactory(PostFactory)
    user = factory.SubFactory(UserFactory)


class CommentFactory(factory.django.DjangoModelFactory):
    """A comment row only: the post's comments_count is left alone (the services keep it)."""

    class Meta:
        model = Comment

    post = factory.SubFactory(PostFactory)
    author = factory.SubFactory(UserFactory)
    text = factory.Sequence(lambda n: f"Nice photo {n}")


# --- images -------------------------------------------------------------------------


def image_bytes(size: tuple[int, int] = (1600, 1200), color=RED, fmt: str = "JPEG", **params) -> bytes:
    """An encoded image of one colour, with a blue square in the top-left corner."""
    image = Image.new("RGB", size, color)
    image.paste(BLUE, (0, 0, max(1, size[0] // 5), max(1, size[1] // 5)))
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def photo(size: tuple[int, int] = (1600, 1200), **params) -> SimpleUploadedFile:
    """A real JPEG upload."""
    return upload(image_bytes(size, **params))


def gps_jpeg() -> bytes:
    """A JPEG whose EXIF names a camera and a GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 7.0)
    return image_bytes((800, 600), exif=exif)


def rotated_jpeg(size: tuple[int, int] = (1200, 800)) -> bytes:
    """A landscape JPEG that asks to be shown rotated 90° clockwise (EXIF orientation 6)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    return image_bytes(size, exif=exif, quality=95)


def truncated_jpeg() -> bytes:
    """The first half of a noisy JPEG."""
    size = (400, 300)
    noise = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)
    data = out.getvalue()
    return data[: len(data) // 2]


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header declares width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def media_files(root: str) -> list[str]:
    """Every file under the media root."""
    return [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]

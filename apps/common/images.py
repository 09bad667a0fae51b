"""The single image pipeline for uploads: validate, normalise, strip metadata, re-encode."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO

import blurhash
import pillow_heif
from PIL import Image, ImageOps

pillow_heif.register_heif_opener()

# Identification is by content only; anything else (GIF, TIFF, BMP, SVG...) is refused.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
OUTPUT_FORMAT = "JPEG"
OUTPUT_EXTENSION = ".jpg"
MAIN_QUALITY = 85
THUMBNAIL_QUALITY = 80
BLURHASH_BOX = 64
BLURHASH_COMPONENTS = (4, 3)


class ImageError(Exception):
    """An uploaded image was refused; `message` is safe to show to the user."""

    default_message = "The image could not be processed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class ImageTooLarge(ImageError):
    """The image exceeds the byte or pixel limit, or is a decompression bomb."""

    default_message = "The image is too large."


class NotAnImage(ImageError):
    """The upload is not a complete, decodable JPEG, PNG, WebP or HEIC image."""

    default_message = "The file is not a supported image (JPEG, PNG, WebP or HEIC)."


@dataclass(frozen=True)
class ProcessedImage:
    """A re-encoded, metadata-free image with its thumbnail and blurhash."""

    content: bytes
    thumbnail: bytes
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int
    format: str
    extension: str
    blurhash: str


def process_image(
    *,
    file: IO[bytes],
    max_bytes: int,
    max_pixels: int,
    max_width: int,
    thumbnail_width: int,
    square: bool = False,
) -> ProcessedImage:
    """Validate an uploaded image and return a stripped JPEG, its thumbnail and blurhash."""
    image = _decode(_read_capped(file, max_bytes=max_bytes), max_pixels=max_pixels)
    if square:
        image = _center_square(image)
    main = _fit_width(image, max_width)
    thumb = _fit_width(main, thumbnail_width)
    return ProcessedImage(
        content=_encode_jpeg(main, quality=MAIN_QUALITY),
        thumbnail=_encode_jpeg(thumb, quality=THUMBNAIL_QUALITY),
        width=main.width,
        height=main.height,
        thumbnail_width=thumb.width,
        thumbnail_height=thumb.height,
        format=OUTPUT_FORMAT,
        extension=OUTPUT_EXTENSION,
        blurhash=_blurhash(thumb),
    )


def _read_capped(file: IO[bytes], *, max_bytes: int) -> bytes:
    """Return the file's bytes, refusing it without reading it all when it is over max_bytes."""
    size = getattr(file, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise ImageTooLarge(f"The image is larger than {max_bytes} bytes.")
    file.seek(0)
    # The declared size may be missing or wrong, so the read itself is capped too.
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(f"The image is larger than {max_bytes} bytes.")
    if not data:
        raise NotAnImage("The file is empty.")
    return data


def _decode(data: bytes, *, max_pixels: int) -> Image.Image:
    """Identify, size-check and fully decode the image, returning it upright and in RGB."""
    with warnings.catch_warnings():
        # Local only: the global Image.MAX_IMAGE_PIXELS is left alone.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            # Only the header has been read so far; refuse before allocating pixel memory.
            if image.width * image.height > max_pixels:
                raise ImageTooLarge(f"The image has more than {max_pixels} pixels.")
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            return _to_rgb(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge("The image has too many pixels.") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # Includes UnidentifiedImageError and "image file is truncated".
            raise NotAnImage() from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    """Return an RGB copy with any transparency flattened onto white."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _center_square(image: Image.Image) -> Image.Image:
    """Crop the largest centred square."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def _fit_width(image: Image.Image, width: int) -> Image.Image:
    """Downscale to at most `width` pixels wide, keeping the aspect ratio; never upscale."""
    if image.width <= width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode_jpeg(image: Image.Image, *, quality: int) -> bytes:
    """Encode as progressive JPEG from raw pixels only."""
    # A fresh image has an empty .info, so no EXIF/GPS, XMP, ICC or comment can be carried over.
    clean = Image.frombytes("RGB", image.size, image.tobytes())
    out = io.BytesIO()
    clean.save(out, OUTPUT_FORMAT, quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def _blurhash(image: Image.Image) -> str:
    """Compute the blurhash placeholder from a small copy."""
    small = image.copy()  # blurhash.encode closes the image it is given
    small.thumbnail((BLURHASH_BOX, BLURHASH_BOX))
    with warnings.catch_warnings():
        # blurhash-python 1.2.2 calls Image.getdata(), deprecated since Pillow 13.
        warnings.simplefilter("ignore", DeprecationWarning)
        return blurhash.encode(small, *BLURHASH_COMPONENTS)

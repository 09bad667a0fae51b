"""Generated photos: varied sizes, colours and shapes, JPEG or PNG, some with an EXIF orientation tag."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

ORIENTATION_TAG = 0x0112
ROTATING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that turn the picture a quarter


@dataclass(frozen=True)
class Photo:
    filename: str
    content: bytes
    content_type: str
    width: int  # as stored in the file
    height: int
    orientation: int  # 1: none

    def upload(self) -> tuple[str, bytes, str]:
        return self.filename, self.content, self.content_type

    @property
    def shown_landscape(self) -> bool:
        """Whether the picture is wider than tall once its orientation is applied."""
        turned = self.orientation in ROTATING_ORIENTATIONS
        return (self.height > self.width) if turned else (self.width > self.height)


def make_photo(rng: random.Random, *, exif_share: float = 0.2) -> Photo:
    """A small picture (a gradient and a few shapes), landscape or portrait, never square."""
    width, height = rng.randrange(240, 640), rng.randrange(160, 480)
    if rng.random() < 0.4:
        width, height = height, width
    if width == height:
        width += 16
    top, bottom = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.composite(Image.new("RGB", image.size, top), Image.new("RGB", image.size, bottom), image.convert("L"))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(2, 7)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        box = (x0, y0, x0 + rng.randrange(10, width // 2), y0 + rng.randrange(10, height // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    orientation = rng.choice((3, 6, 8)) if rng.random() < exif_share else 1
    buffer = io.BytesIO()
    if rng.random() < 0.75:
        exif = Image.Exif()
        if orientation != 1:
            exif[ORIENTATION_TAG] = orientation
        image.save(buffer, "JPEG", quality=rng.randrange(60, 90), exif=exif.tobytes())
        return Photo("photo.jpg", buffer.getvalue(), "image/jpeg", width, height, orientation)
    image.save(buffer, "PNG")
    return Photo("photo.png", buffer.getvalue(), "image/png", width, height, 1)

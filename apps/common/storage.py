"""Small helpers around Django's default storage."""

import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.common.images import ProcessedImage


def delete_files(*names: str) -> None:
    """Delete stored files by name; empty names are skipped."""
    for name in names:
        if name:
            default_storage.delete(name)


def store_image(*, folder: str, image: ProcessedImage) -> tuple[str, str]:
    """Save a processed image and its thumbnail under ``folder``; if the second save fails, the first goes."""
    stem = f"{folder}/{uuid.uuid4().hex}"
    main = default_storage.save(f"{stem}{image.extension}", ContentFile(image.content))
    try:
        thumb = default_storage.save(f"{stem}_thumb{image.extension}", ContentFile(image.thumbnail))
    except BaseException:
        delete_files(main)
        raise
    return main, thumb

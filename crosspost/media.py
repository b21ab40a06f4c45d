"""Image facts read from the file header with Pillow, cached per file version."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: JPEG, PNG, GIF, WEBP ...
    width: int
    height: int
    size: int  # bytes
    animated: bool


_cache: dict[tuple[str, int, int], ImageInfo | str] = {}
_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file, cached per file version (path, modification time, size)."""
    st = os.stat(path)
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _digests:
        import hashlib

        _digests[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _digests[key]


def image_info(path: Path) -> ImageInfo | str:
    """The image's facts, or a sentence saying why it cannot be used."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot read the file ({exc.strerror})"
    key = (str(path), st.st_mtime_ns, st.st_size)
    cached = _cache.get(key)
    if cached is None:
        cached = _cache[key] = _read(path, st.st_size)
    return cached


def _read(path: Path, size: int) -> ImageInfo | str:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:  # reads the header only
            return ImageInfo(
                format=img.format or "unknown",
                width=img.width,
                height=img.height,
                size=size,
                animated=bool(getattr(img, "is_animated", False)),
            )
    except UnidentifiedImageError:
        return "not an image crosspost can read (videos are not supported yet)"
    except (OSError, Image.DecompressionBombError) as exc:
        return f"cannot read the image ({exc})"

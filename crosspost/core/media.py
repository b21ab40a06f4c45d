"""Image facts read from the file header with Pillow, cached per file version."""

from __future__ import annotations

import os
import stat
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


MAX_MEDIA_BYTES = 64 * 1024 * 1024  # larger than any platform takes (the fake: 50 MB): never read


def file_digest(path: Path) -> str:
    """SHA-256 of a file, cached per file version (path, modification time, size); read in
    blocks, so a huge file costs time, never memory."""
    st = os.stat(path)
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _digests:
        import hashlib

        with open(path, "rb") as fh:
            _digests[key] = hashlib.file_digest(fh, "sha256").hexdigest()
    return _digests[key]


def forget(path: Path) -> None:
    """Drop what is remembered of a file (its facts and digest), so it is read afresh."""
    name = str(path)
    for cache in (_cache, _digests):
        for key in [k for k in cache if k[0] == name]:
            cache.pop(key, None)


class MediaChanged(Exception):
    """The bytes about to be uploaded are not those that were checked (and approved), or the
    file now leads outside the project. The message says which, in plain words."""


def read_checked(path: Path, root: Path, digest: str, rel: str) -> bytes:
    """The bytes of a post's image as they are *now*, refused unless they are exactly what
    was checked: the file must still lie inside the project once every link is followed (a
    symlink swapped in since is refused) and hash to `digest` (approvals bind to it)."""
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(Path(os.path.realpath(root))):
        raise MediaChanged(f"{rel} now leads outside the project ({real}): it is not uploaded")
    try:
        # O_NOFOLLOW: the file cannot be swapped for a link between the check and the open
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise MediaChanged(f"cannot open {rel} ({exc.strerror})") from None
    with open(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MEDIA_BYTES:
            raise MediaChanged(f"{rel} is no longer an image file of a usable size")
        data = fh.read(MAX_MEDIA_BYTES + 1)
    import hashlib

    if not digest or hashlib.sha256(data).hexdigest() != digest:
        forget(path)  # replaced with the same size and time: the next load must read it again
        raise MediaChanged(
            f"{rel} changed after the post was checked (and approved): what was approved is "
            "not what would be uploaded, so nothing is sent; it is checked again first"
        )
    return data


def image_info(path: Path) -> ImageInfo | str:
    """The image's facts, or a sentence saying why it cannot be used."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot read the file ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a pipe, device or folder)"
    if st.st_size > MAX_MEDIA_BYTES:  # never parsed: a damaged header can send Pillow
        # scanning through the whole file (minutes for 1.5 GB)
        return (
            f"the file is {st.st_size / 1e6:,.0f} MB, larger than any platform takes: use a "
            "smaller image"
        )
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

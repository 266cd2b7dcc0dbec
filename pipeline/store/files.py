"""Content-addressed image files: `images_dir/ab/abcdef….png`, named by the sha256 of their bytes.

A file is written to a temporary name in its final folder, fsynced, then `os.replace`d into place, so a reader
(or a crash) never sees half a file; the same bytes always map to the same name, so writing twice is a no-op.
Files are written before the database transaction that references them: a failed transaction leaves at worst
an unreferenced file, which `Store.collect_garbage()` removes. The first two hex characters as a folder keep
any one directory small.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
}
TEMP_PREFIX = ".tmp-"
_IMAGE_ID = re.compile(r"[0-9a-f]{64}")


def is_image_id(value) -> bool:
    return isinstance(value, str) and _IMAGE_ID.fullmatch(value) is not None


class ImageFiles:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def relative_path(image_id: str, mime: str) -> str:
        extension = EXTENSIONS.get(mime)
        if extension is None:
            raise ValueError(f"Cannot store an image of type {mime!r}; supported: {', '.join(EXTENSIONS)}.")
        return f"{image_id[:2]}/{image_id}{extension}"

    def write(self, relative: str, data: bytes) -> None:
        """Make sure the file `relative` (from `relative_path`) exists and holds `data`."""
        target = self.root / relative
        try:
            if target.stat().st_size == len(data):
                return
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def remove(self, relative: str) -> bool:
        try:
            (self.root / relative).unlink()
            return True
        except FileNotFoundError:
            return False

    def walk(self) -> Iterator[tuple[str | None, Path]]:
        """(image id, path) of every file under the root: id None for a temporary file, foreign files skipped."""
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.name.startswith(TEMP_PREFIX):
                    yield None, path
                    continue
                stem = path.name.split(".", 1)[0]
                if is_image_id(stem) and path.is_file():
                    yield stem, path

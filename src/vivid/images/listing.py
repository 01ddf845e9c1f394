"""The one rule for which files in a folder are images: by suffix, hidden files (names that
start with a dot) left out, sorted; recursive on request."""

from __future__ import annotations

import logging
from pathlib import Path

from vivid.errors import VividError
from vivid.images.imagefile import IMAGE_SUFFIXES

log = logging.getLogger(__name__)


def image_files(folder: Path, recursive: bool = False) -> tuple[list[Path], int]:
    """(image files, how many other visible files were passed over)."""
    pattern = "**/*" if recursive else "*"
    candidates = [p for p in folder.glob(pattern) if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    files = sorted(p for p in candidates if p.suffix.lower() in IMAGE_SUFFIXES)
    return files, len(candidates) - len(files)


def list_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Image files in a folder, sorted; a clear error if there are none, a warning for others."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VividError(f"{folder}: not a folder")
    files, others = image_files(folder, recursive)
    if not files:
        raise VividError(f"{folder}: no images (png/jpg/jpeg/bmp/webp/tif)")
    if others:
        log.warning("%s: skipped %d files that are not images (by suffix)", folder, others)
    return files

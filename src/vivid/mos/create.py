"""``vivid mos create``: check the method folders and write a new study folder.

Images are matched by file name across the method folders (and the reference). Refused with
a one-line error: formats a browser cannot show (TIFF, ...), a file that is not the image its
suffix says, an item whose versions differ in size (that would give the method away), a
``--training`` folder that shares an image with the study, bad ``--per-rater`` or
``--ratings-per-image``. The study is built in a temporary folder beside the target and
renamed into place at the end, so a failed create leaves nothing behind.

Calibration and practice come from the ``--training`` folder only: the first two training
images become calibration pairs (the image as "excellent: 5" beside a 4x nearest-neighbour
copy as "bad: 1", as the SRGAN paper calibrated on NN and HR), the next three (at most)
practice trials at mixed quality; none of them is ever a study image.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from vivid.atomic import temp_path
from vivid.errors import VividError
from vivid.mos.study import DATABASE, SCHEMA, SCHEMA_VERSION

log = logging.getLogger(__name__)

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
_REFUSED = {".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP", ".gif": "GIF", ".ppm": "PPM",
            ".pgm": "PGM", ".exr": "EXR", ".heic": "HEIC", ".jp2": "JPEG 2000"}
_PRACTICE_FACTORS = (2, 1, 3)  # nearest-neighbour factors: middle, top, lower quality


def browser_images(folder: Path) -> dict[str, Path]:
    """name -> path of the browser-displayable images in a folder (errors for refused ones)."""
    if not folder.is_dir():
        raise VividError(f"{folder}: not a folder")
    found = {}
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if path.name.startswith(".") or not path.is_file():
            continue
        if suffix in _REFUSED:
            raise VividError(f"{path}: {_REFUSED[suffix]} is not shown by web browsers; "
                             "convert it to PNG")
        if suffix in FORMATS:
            found[path.name] = path
        else:
            log.warning("%s: skipped (not a png/jpg/webp image)", path)
    if not found:
        raise VividError(f"{folder}: no png/jpg/webp images")
    return found


def image_size(path: Path) -> tuple[int, int]:
    """Width and height, checking the file really is the format its suffix says."""
    try:
        with Image.open(path) as image:
            kind, size = image.format, image.size
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise VividError(f"{path}: not a readable image ({error})") from None
    if kind != FORMATS[path.suffix.lower()]:
        raise VividError(f"{path}: the file is {kind}, not what its suffix says")
    return size


def _parse_method(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder:
        raise VividError(f"--method {text}: expected NAME=FOLDER")
    return name.strip(), Path(folder)


@dataclass(frozen=True)
class StudyPlan:
    methods: dict[str, Path]  # name -> folder, the reference (if any) included
    reference: str | None
    items: list[str]  # file names present in every method's folder
    training: list[Path]  # calibration then practice sources


def _common_items(folders: dict[str, Path]) -> list[str]:
    found = {name: browser_images(folder) for name, folder in folders.items()}
    common = sorted(set.intersection(*(set(files) for files in found.values())))
    if not common:
        raise VividError("no image file name is present in every method folder")
    for files in found.values():
        for missing in sorted(set(files) - set(common)):
            log.warning("%s: not in every method folder; left out of the study",
                        files[missing])
    for item in common:
        sizes = {name: image_size(folders[name] / item) for name in folders}
        if len(set(sizes.values())) > 1:
            shown = ", ".join(f"{w}x{h} in {name}" for name, (w, h) in sizes.items())
            raise VividError(f"{item}: the methods' images differ in size ({shown}), which "
                             "would give the method away")
    return common


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _training(folder: Path | None, plan_folders: dict[str, Path], items: list[str]) -> list[Path]:
    if folder is None:
        return []
    if any(folder.resolve() == other.resolve() for other in plan_folders.values()):
        raise VividError(f"--training {folder}: is one of the study's folders")
    files = browser_images(folder)
    study = {_digest(f / item) for f in plan_folders.values() for item in items}
    for name, path in files.items():
        image_size(path)
        if name in items or _digest(path) in study:
            raise VividError(f"{path}: a training image must not be a study image")
    return list(files.values())[:5]


def plan_study(methods: list[str], reference: str | None,
               training: Path | None = None) -> StudyPlan:
    """Match and check the images of every method folder (and the reference)."""
    folders: dict[str, Path] = {}
    reference_name = None
    pairs = [_parse_method(m) for m in methods]
    if reference:
        reference_name, folder = _parse_method(reference)
        pairs.append((reference_name, folder))
    for name, folder in pairs:
        if name in folders:
            raise VividError(f"method name {name!r} is given twice")
        folders[name] = folder
    if not folders:
        raise VividError("give at least one --method NAME=FOLDER")
    items = _common_items(folders)
    return StudyPlan(folders, reference_name, items, _training(training, folders, items))


def _copy(source: Path, images: Path) -> str:
    identifier = secrets.token_hex(12)
    shutil.copyfile(source, images / f"{identifier}{source.suffix.lower()}")
    return identifier


def _degraded(source: Path, images: Path, factor: int) -> str:
    """A nearest-neighbour down-and-up copy (PNG) at the source's size; its file name."""
    if factor == 1:
        identifier = _copy(source, images)
        return f"{identifier}{source.suffix.lower()}"
    with Image.open(source) as image:
        rgb = image.convert("RGB")
    small = rgb.resize((max(1, rgb.width // factor), max(1, rgb.height // factor)),
                       Image.NEAREST)
    file = f"{secrets.token_hex(12)}.png"
    small.resize(rgb.size, Image.NEAREST).save(images / file)
    return file


def _write_training(connection: sqlite3.Connection, sources: list[Path], images: Path) -> None:
    for pair, source in enumerate(sources[:2]):
        for factor, score, caption in ((1, 5, "excellent: 5"), (4, 1, "bad: 1")):
            file = _degraded(source, images, factor)
            connection.execute("INSERT INTO calibration VALUES (?, ?, ?, ?, ?)",
                               (Path(file).stem, file, score, caption, pair))
    for position, source in enumerate(sources[2:]):
        file = _degraded(source, images, _PRACTICE_FACTORS[position % 3])
        connection.execute("INSERT INTO practice VALUES (?, ?, ?)",
                           (Path(file).stem, file, position))


def _write(folder: Path, plan: StudyPlan, settings: dict[str, int]) -> None:
    images = folder / "images"
    images.mkdir()
    connection = sqlite3.connect(folder / DATABASE, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
        connection.execute("BEGIN")
        for method, source in plan.methods.items():
            for item in plan.items:
                identifier = _copy(source / item, images)
                connection.execute("INSERT INTO images VALUES (?, ?, ?, ?, ?)",
                                   (identifier, method, item,
                                    f"{identifier}{Path(item).suffix.lower()}",
                                    method == plan.reference))
        _write_training(connection, plan.training, images)
        values = {"schema": SCHEMA_VERSION, **{k: str(v) for k, v in settings.items()}}
        connection.executemany("INSERT INTO settings VALUES (?, ?)", values.items())
        connection.execute("COMMIT")
    finally:
        connection.close()


def _check_counts(plan: StudyPlan, per_rater: int | None,
                  ratings_per_image: int | None) -> None:
    total = len(plan.items) * len(plan.methods)
    if per_rater is not None and not 1 <= per_rater <= total:
        raise VividError(f"--per-rater {per_rater}: must be from 1 to {total} (the study's "
                         "images)")
    if ratings_per_image is not None and ratings_per_image < 1:
        raise VividError(f"--ratings-per-image {ratings_per_image}: must be at least 1")


def _check_target(study: Path) -> None:
    if (study / DATABASE).exists():
        raise VividError(f"{study}: already holds a study")
    if study.exists() and (not study.is_dir() or any(study.iterdir())):
        raise VividError(f"{study}: exists and is not an empty folder")


def create_study(study: Path, methods: list[str], reference: str | None = None,
                 per_rater: int | None = None, training: Path | None = None,
                 ratings_per_image: int | None = None) -> StudyPlan:
    """Check everything, then write the study folder in one rename (never half-made)."""
    study = Path(study)
    _check_target(study)
    plan = plan_study(methods, reference, training)
    _check_counts(plan, per_rater, ratings_per_image)
    with temp_path(study, folder=True) as building:
        _write(building, plan, {"per_rater": per_rater or 0,
                                "ratings_per_image": ratings_per_image or 0})
    study.chmod(0o700)  # study.sqlite holds the raters' session tokens: owner only
    if not plan.training:
        log.warning("no --training folder: raters get no calibration or practice")
    return plan

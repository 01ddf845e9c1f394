"""Processing many image files (upscaling, degrading): inputs, output names, errors.

Inputs may be files, folders (images by suffix, ``recursive`` for subfolders) or glob
patterns. Output names mirror the inputs under the output folder (a folder input keeps its
relative layout, a glob the folders below its first wildcard). A file named twice is processed
once; an output that already exists is skipped (unless ``overwrite``). A file that fails is
reported and the rest are still processed.
"""

from __future__ import annotations

import glob
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from vivid.atomic import check_writable
from vivid.errors import VividError
from vivid.images import imagefile
from vivid.images.listing import image_files

log = logging.getLogger(__name__)

_KEPT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path
    conflict: str | None = None  # why it cannot run: another input already writes ``target``


@dataclass(frozen=True)
class Summary:
    done: int
    failed: list[str]
    seconds: float
    skipped: int = 0  # outputs that already existed

    def line(self, verb: str, what: str, output: Path) -> str:
        """One-line report, e.g. 'upscaled 3 of 5 images x4 with m in 2.0 s, 1 skipped
        (output exists; --overwrite redoes it), 1 failed -> out'."""
        notes = ""
        if self.skipped:
            notes += f", {self.skipped} skipped (output exists; --overwrite redoes it)"
        if self.failed:
            notes += f", {len(self.failed)} failed"
        total = self.done + self.skipped + len(self.failed)
        return f"{verb} {self.done} of {total} images {what} in {self.seconds:.1f} s{notes} " \
               f"-> {output}"


def _glob_base(pattern: str) -> Path:
    """The folders of a glob pattern before its first wildcard ('' for none)."""
    parts = Path(pattern).parts[:-1]
    return Path(*itertools.takewhile(lambda part: not glob.has_magic(part), parts))


def _expand(item: str, recursive: bool) -> list[tuple[Path, Path]]:
    """(source, name relative to the output folder) pairs for one INPUT argument."""
    path = Path(item)
    if path.is_dir():
        files = image_files(path, recursive)[0]
        return [(p, p.relative_to(path)) for p in files]
    if not path.exists() and glob.has_magic(item):
        matches = sorted(Path(m) for m in glob.glob(item, recursive=recursive))
        base = _glob_base(item)
        return [(m, m.relative_to(base)) for m in matches if m.is_file()]
    return [(path, Path(path.name))]


def _output_name(relative: Path, fmt: str | None) -> Path:
    if fmt is not None:
        return relative.with_suffix(imagefile.OUTPUT_FORMATS[fmt])
    suffix = relative.suffix.lower()
    return relative if suffix in _KEPT_SUFFIXES else relative.with_suffix(".png")


def _unique(pairs: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """The pairs without a file already listed (named twice, or by a folder and a glob)."""
    seen: set[Path] = set()
    unique = []
    for source, relative in pairs:
        if source.resolve() not in seen:
            seen.add(source.resolve())
            unique.append((source, relative))
    return unique


def _single_file(output: Path) -> bool:
    """Whether ``-o`` names an output file (an image suffix) rather than a folder."""
    if output.is_dir():
        return False
    if output.suffix.lower() == ".gif":
        raise VividError(f"{output}: cannot write GIF; use one of "
                         f"{', '.join(imagefile.OUTPUT_FORMATS.values())}")
    return imagefile.output_format(output) is not None


def plan_jobs(
    inputs: Iterable[str], output: Path, fmt: str | None = None, recursive: bool = False
) -> list[Job]:
    """Pair every input image (each file once) with its output path.

    ``output`` is a folder, or a file name with an image suffix (its format) when there is one
    input. An input whose output another input already writes gets a ``conflict``.
    """
    pairs = _unique([pair for item in inputs for pair in _expand(item, recursive)])
    if not pairs:
        raise VividError(f"no input images found in {', '.join(inputs) or 'the arguments'}")
    if _single_file(output):
        if len(pairs) != 1:
            raise VividError(
                f"{output}: a file name as output needs exactly one input, "
                f"got {len(pairs)}; give a folder instead"
            )
        return [Job(pairs[0][0], output)]
    jobs, writers = [], {}
    for source, relative in pairs:
        target = output / _output_name(relative, fmt)
        first = writers.setdefault(target, source)
        conflict = None if first is source else (
            f"{source}: its output {target} is already written for {first}; "
            "upscale one of them separately")
        jobs.append(Job(source, target, conflict))
    return jobs


Progress = Callable[[int, int], None]
Transform = Callable[[imagefile.DecodedImage, Progress], tuple[torch.Tensor, torch.Tensor | None]]


def _process(
    transform: Transform,
    job: Job,
    overwrite: bool,
    provenance: str | None,
    max_pixels: int,
    on_tile: Progress,
) -> bool:
    """Run one job; False when it was skipped because its output exists."""
    if job.conflict:
        raise VividError(job.conflict)
    if job.target.exists() and not overwrite:
        return False
    check_writable(job.target.parent)  # before the work, not after it
    image = imagefile.read_image(job.source, max_pixels)
    try:
        rgb, alpha = transform(image, on_tile)
    except VividError as error:
        raise VividError(f"{job.source}: {error}") from error
    imagefile.write_image(job.target, rgb, alpha, image.info, provenance)
    return True


def run_jobs(
    transform: Transform,
    jobs: list[Job],
    overwrite: bool = False,
    provenance: str | None = None,
    max_pixels: int = imagefile.DEFAULT_MAX_PIXELS,
    progress: bool = True,
) -> Summary:
    """Apply ``transform`` (image, tile-progress callback) -> (RGB, alpha) to every job.

    Failures are printed to stderr (one line each) and listed in the summary; the others go
    on. Jobs whose output exists are skipped unless ``overwrite``.
    """
    started, failed, skipped = time.perf_counter(), [], 0
    bar = tqdm(jobs, unit="image", disable=not progress, dynamic_ncols=True)
    tile_bar: tqdm | None = None

    def on_tile(done: int, total: int) -> None:
        nonlocal tile_bar
        if total > 1 and progress:
            if tile_bar is None or done == 1:  # first tile, or a restart with smaller tiles
                close_tile_bar()
                tile_bar = tqdm(total=total, unit="tile", leave=False, dynamic_ncols=True)
            tile_bar.update(1)

    def close_tile_bar() -> None:
        nonlocal tile_bar
        if tile_bar is not None:
            tile_bar.close()
        tile_bar = None

    for job in bar:
        bar.set_postfix_str(job.source.name)
        try:
            skipped += not _process(transform, job, overwrite, provenance, max_pixels, on_tile)
        except VividError as error:
            failed.append(str(error))
            log.error("%s", error)
        finally:
            close_tile_bar()
    done = len(jobs) - len(failed) - skipped
    return Summary(done, failed, time.perf_counter() - started, skipped)

"""Processing many image files (upscaling, degrading): inputs, output names, errors.

Inputs may be files, folders (images by suffix, ``recursive`` for subfolders) or glob
patterns. Output names mirror the inputs under the output folder (a folder input keeps its
relative layout). A file that fails is reported and the rest are still processed.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from vivid import io
from vivid.errors import VividError

_KEPT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


@dataclass(frozen=True)
class Summary:
    done: int
    failed: list[str]
    seconds: float

    def line(self, verb: str, what: str, output: Path) -> str:
        """One-line report, e.g. 'upscaled 4 of 5 images x4 with m in 2.0 s, 1 failed -> out'."""
        failed = f", {len(self.failed)} failed" if self.failed else ""
        total = self.done + len(self.failed)
        timing = f"in {self.seconds:.1f} s{failed}"
        return f"{verb} {self.done} of {total} images {what} {timing} -> {output}"


def _expand(item: str, recursive: bool) -> list[tuple[Path, Path]]:
    """(source, name relative to the output folder) pairs for one INPUT argument."""
    path = Path(item)
    if path.is_dir():
        pattern = "**/*" if recursive else "*"
        files = sorted(
            p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() in io.IMAGE_SUFFIXES
        )
        return [(p, p.relative_to(path)) for p in files]
    if not path.exists() and glob.has_magic(item):
        matches = sorted(Path(m) for m in glob.glob(item, recursive=recursive))
        return [(m, Path(m.name)) for m in matches if m.is_file()]
    return [(path, Path(path.name))]


def _output_name(relative: Path, fmt: str | None) -> Path:
    if fmt is not None:
        return relative.with_suffix(io.OUTPUT_FORMATS[fmt])
    suffix = relative.suffix.lower()
    return relative if suffix in _KEPT_SUFFIXES else relative.with_suffix(".png")


def plan_jobs(
    inputs: Iterable[str], output: Path, fmt: str | None = None, recursive: bool = False
) -> list[Job]:
    """Pair every input image with its output path; refuses two inputs writing one file.

    ``output`` is a folder, or a file name (with an image suffix) when there is one input.
    """
    pairs = [pair for item in inputs for pair in _expand(item, recursive)]
    if not pairs:
        raise VividError(f"no input images found in {', '.join(inputs) or 'the arguments'}")
    if output.suffix.lower() in _KEPT_SUFFIXES and not output.is_dir():
        if len(pairs) != 1:
            raise VividError(
                f"{output}: a file name as output needs exactly one input, "
                f"got {len(pairs)}; give a folder instead"
            )
        return [Job(pairs[0][0], output)]
    jobs = [Job(source, output / _output_name(relative, fmt)) for source, relative in pairs]
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise VividError(
                f"{job.target}: would be written by both {seen[job.target]} and {job.source}"
            )
        seen[job.target] = job.source
    return jobs


Progress = Callable[[int, int], None]
Transform = Callable[[io.DecodedImage, Progress], tuple[torch.Tensor, torch.Tensor | None]]


def _process(
    transform: Transform,
    job: Job,
    overwrite: bool,
    provenance: str | None,
    max_pixels: int,
    on_tile: Progress,
) -> None:
    if job.target.exists() and not overwrite:
        raise VividError(f"{job.target}: already exists (use --overwrite to replace it)")
    image = io.read_image(job.source, max_pixels)
    rgb, alpha = transform(image, on_tile)
    try:
        job.target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VividError(f"{job.target.parent}: cannot create folder ({error.strerror})") from error
    io.write_image(job.target, rgb, alpha, image.info, provenance)


def run_jobs(
    transform: Transform,
    jobs: list[Job],
    overwrite: bool = False,
    provenance: str | None = None,
    max_pixels: int = io.DEFAULT_MAX_PIXELS,
    progress: bool = True,
) -> Summary:
    """Apply ``transform`` (image, tile-progress callback) -> (RGB, alpha) to every job.

    Failures are printed (one line each) and listed in the summary; the others go on.
    """
    started, failed = time.perf_counter(), []
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
            _process(transform, job, overwrite, provenance, max_pixels, on_tile)
        except VividError as error:
            failed.append(str(error))
            tqdm.write(f"error: {error}")
        finally:
            close_tile_bar()
    return Summary(len(jobs) - len(failed), failed, time.perf_counter() - started)

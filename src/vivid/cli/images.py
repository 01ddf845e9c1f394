"""``vivid upscale`` and ``vivid degrade``: image files (and, through ``cli.video``, videos)."""

from __future__ import annotations

import argparse
import logging
import os
import textwrap
from pathlib import Path

from vivid.atomic import no_new_empty_folders
from vivid.cli.options import add_device_options, add_output_options
from vivid.cli.video import add_video_options, engine, is_video_input, upscale_videos
from vivid.errors import VividError
from vivid.images import imagefile
from vivid.inference.file_jobs import plan_jobs, run_jobs
from vivid.inference.loader import DEFAULT_VIDEO_MODEL, MODEL_GUIDE, load_upscaler
from vivid.inference.recurrent import VideoUpscaler
from vivid.inference.runtimes import RUNTIMES
from vivid.inference.upscaler import (
    DEFAULT_MEMORY_BUDGET,
    DEFAULT_MODEL,
    DEFAULT_TILE,
    DEFAULT_TILE_OVERLAP,
    Upscaler,
)
from vivid.nets.weights_file import bundled_models

log = logging.getLogger(__name__)


def models_epilog() -> str:
    """The ``--model`` choices (bundled models and ``bicubic``), each with when to use it."""
    bundled = bundled_models()
    names = [*(n for n in MODEL_GUIDE if n in bundled), *(n for n in bundled
                                                          if n not in MODEL_GUIDE), "bicubic"]
    width = max(map(len, names))

    def note(name: str) -> str:
        roles = [role for role, default in (("images", DEFAULT_MODEL),
                                            ("videos", DEFAULT_VIDEO_MODEL)) if name == default]
        return f" (default for {' and '.join(roles)})" if roles else ""

    lines = [textwrap.fill(MODEL_GUIDE.get(name, "") + note(name), 78,
                           initial_indent=f"  {name:<{width}}  ",
                           subsequent_indent=" " * (width + 4)) for name in names]
    return ("models (--model NAME; or a .safetensors, .pt/.pth or .onnx file):\n"
            + "\n".join(lines) + "\nmodel cards: docs/models/image.md, docs/models/video.md")


def add_upscale(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "upscale",
        help="upscale images and videos 4x",
        description="Upscale images (files, folders or globs) and videos (files, or frame "
                    "folders with --frames) 4x.",
        epilog=models_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image or video files, folders, globs")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("results"),
        help="output folder, or a file name for one input (default: results)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="a model below or a weights file (default: "
             + (f"{DEFAULT_MODEL})" if DEFAULT_VIDEO_MODEL == DEFAULT_MODEL else
                f"{DEFAULT_MODEL} for images, {DEFAULT_VIDEO_MODEL} for videos)"),
    )
    parser.add_argument(
        "--memory-budget",
        type=int,
        default=None,
        metavar="MIB",
        help="memory for the result and one model call; images that fit run whole, larger "
        f"ones in the fewest tiles that fit (default: {DEFAULT_MEMORY_BUDGET} on the CPU, "
        "half the free memory on a GPU)",
    )
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        help="largest tile side in input pixels instead of --memory-budget, 0 = no tiling "
        f"(default: by --memory-budget; video models: {DEFAULT_TILE})",
    )
    parser.add_argument(
        "--tile-overlap",
        type=int,
        default=DEFAULT_TILE_OVERLAP,
        help=f"context pixels around each tile (default: {DEFAULT_TILE_OVERLAP})",
    )
    parser.add_argument("--tile-batch", type=int, default=None,
                        help="tiles of the same size run together (default: 1 on CPU, 4 on GPU)")
    add_device_options(parser)
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="auto: the fastest installed here for this model (measured once); "
                        "onnx/openvino run on the CPU (a .onnx model or any weights)")
    parser.add_argument(
        "--format",
        choices=sorted(imagefile.OUTPUT_FORMATS),
        default=None,
        help="output format (default: the input's own, PNG for others)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--recursive", action="store_true", help="descend into subfolders")
    parser.add_argument(
        "--no-provenance",
        action="store_true",
        help="do not write the 'upscaled by vivid' note into output metadata",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=imagefile.DEFAULT_MAX_PIXELS,
        help="largest input accepted, in pixels (decompression-bomb guard; "
        f"default: {imagefile.DEFAULT_MAX_PIXELS})",
    )
    add_output_options(parser)
    add_video_options(parser)
    parser.set_defaults(handler=_upscale)


def _load(args: argparse.Namespace, default: str,
          loaded: dict[str, Upscaler | VideoUpscaler]) -> Upscaler | VideoUpscaler:
    """``--model``, else ``default`` (the image or the video default); loaded once."""
    name = default if args.model is None else args.model
    if name not in loaded:
        loaded[name] = load_upscaler(name, device=args.device, precision=args.precision,
                                     tile=args.tile, tile_overlap=args.tile_overlap,
                                     runtime=args.runtime, tile_batch=args.tile_batch,
                                     memory_budget=args.memory_budget)
        log.debug("%s runs with %s (--runtime %s) on %s", name, engine(loaded[name]),
                  args.runtime, loaded[name].device)
    if isinstance(loaded[name], VideoUpscaler) and args.temporal != "none":
        raise VividError(f"--temporal {args.temporal} is for image models; {name} is a video "
                         "model and needs none")
    return loaded[name]


def _upscale(args: argparse.Namespace) -> int:
    with no_new_empty_folders(args.output):  # a failed run leaves no empty output folder
        return _upscale_all(args)


def _upscale_all(args: argparse.Namespace) -> int:
    if (args.tile or 0) < 0 or args.tile_overlap < 0:
        raise VividError("--tile and --tile-overlap must be >= 0")
    if args.memory_budget is not None and args.memory_budget < 1:
        raise VividError("--memory-budget must be >= 1 (MiB)")
    if args.tile_batch is not None and args.tile_batch < 1:
        raise VividError("--tile-batch must be >= 1")
    videos = [item for item in args.inputs if is_video_input(item, args.frames)]
    images = [item for item in args.inputs if item not in videos]
    jobs = plan_jobs(images, args.output, args.format, args.recursive) if images else []
    rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    loaded: dict[str, Upscaler | VideoUpscaler] = {}  # all before any work, on every rank
    video_upscaler = _load(args, DEFAULT_VIDEO_MODEL, loaded) if videos else None
    upscaler = _load(args, DEFAULT_MODEL, loaded) if images or not videos else None
    jobs, videos = jobs[rank::world_size], videos[rank::world_size]  # torchrun: shares
    failed = (upscale_videos(video_upscaler, videos, args)
              if video_upscaler is not None and videos else [])
    if upscaler is not None and images:
        if isinstance(upscaler, VideoUpscaler):  # images: each one a first frame
            upscaler = upscaler.image_upscaler()
        summary = run_jobs(upscaler.upscale_decoded, jobs, overwrite=args.overwrite,
                           provenance=None if args.no_provenance else upscaler.provenance(),
                           max_pixels=args.max_pixels, progress=not args.quiet)
        print(summary.line("upscaled", f"x{upscaler.scale} with {upscaler.name} "
                           f"({upscaler.describe()})", args.output))
        failed += summary.failed
    return 1 if failed else 0


def add_degrade(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "degrade", help="make low-resolution images (MATLAB bicubic, blur, BD)",
        description="Write LR PNGs of HR images (HR cropped top-left to a multiple of the "
                    "scale first), as the SR literature makes its test inputs.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, globs")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--method", choices=("bicubic", "bd"), default="bicubic",
                        help="bicubic: MATLAB imresize; bd: Gaussian blur, every n-th pixel")
    parser.add_argument("--blur", type=float, default=None, metavar="SIGMA",
                        help="Gaussian blur before downscaling (bd: default 1.5)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--recursive", action="store_true")
    add_output_options(parser)
    parser.set_defaults(handler=_degrade)


def _degrade(args: argparse.Namespace) -> int:
    from vivid.degrade import make_pair

    if args.scale < 1:
        raise VividError(f"--scale must be >= 1, got {args.scale}")

    def transform(image: imagefile.DecodedImage, _progress: object) -> tuple:
        lr_rgb = make_pair(image.rgb, args.scale, args.method, args.blur)[0]
        alpha = image.alpha
        if alpha is not None:
            alpha = make_pair(alpha.expand(-1, 3, -1, -1), args.scale, args.method,
                              args.blur)[0][:, :1]
        return lr_rgb, alpha

    jobs = plan_jobs(args.inputs, args.output, "png", args.recursive)
    with no_new_empty_folders(args.output):  # a failed run leaves no empty output folder
        summary = run_jobs(transform, jobs, overwrite=args.overwrite, progress=not args.quiet)
    print(summary.line("degraded", f"/{args.scale} ({args.method})", args.output))
    return 1 if summary.failed else 0

"""The ``vivid`` command line. Each subcommand maps its flags onto the library's own API."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from vivid._version import __version__
from vivid.atomic import Terminated, raise_on_sigterm
from vivid.cli.mos import add_mos_commands
from vivid.cli.video import add_eval_video, add_video_options, is_video_input, upscale_videos
from vivid.degrade import DEGRADATIONS
from vivid.errors import VividError
from vivid.evaluation.bench import add_bench_command
from vivid.images import imagefile
from vivid.inference.file_jobs import plan_jobs, run_jobs
from vivid.inference.loader import load_upscaler
from vivid.inference.recurrent import VideoUpscaler
from vivid.inference.runtimes import RUNTIMES
from vivid.inference.upscaler import (
    DEFAULT_MODEL,
    DEFAULT_TILE,
    DEFAULT_TILE_OVERLAP,
    DEVICES,
    PRECISIONS,
)


def _add_upscale(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "upscale",
        help="upscale images",
        description="Upscale images (files, folders or globs) with an SRGAN/SRResNet model.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, globs")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("results"),
        help="output folder, or a file name for one input (default: results)",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"bundled name, weights file, or 'bicubic' (default: {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--tile",
        type=int,
        default=DEFAULT_TILE,
        help=f"largest tile side in input pixels, 0 = no tiling (default: {DEFAULT_TILE})",
    )
    parser.add_argument(
        "--tile-overlap",
        type=int,
        default=DEFAULT_TILE_OVERLAP,
        help=f"context pixels around each tile (default: {DEFAULT_TILE_OVERLAP})",
    )
    parser.add_argument("--tile-batch", type=int, default=None,
                        help="tiles of the same size run together (default: 1 on CPU, 4 on GPU)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: fp16 on GPUs, bf16 on CPUs with native bf16, else fp32")
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
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_video_options(parser)
    parser.set_defaults(handler=_upscale)


def _upscale(args: argparse.Namespace) -> int:
    if args.tile < 0 or args.tile_overlap < 0:
        raise VividError("--tile and --tile-overlap must be >= 0")
    if args.tile_batch is not None and args.tile_batch < 1:
        raise VividError("--tile-batch must be >= 1")
    videos = [item for item in args.inputs if is_video_input(item, args.frames)]
    images = [item for item in args.inputs if item not in videos]
    jobs = plan_jobs(images, args.output, args.format, args.recursive) if images else []
    rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    jobs, videos = jobs[rank::world_size], videos[rank::world_size]  # torchrun: shares
    upscaler = load_upscaler(args.model, device=args.device, precision=args.precision,
                             tile=args.tile or None, tile_overlap=args.tile_overlap,
                             runtime=args.runtime, tile_batch=args.tile_batch)
    failed = upscale_videos(upscaler, videos, args) if videos else []
    if isinstance(upscaler, VideoUpscaler):  # images: each one a first frame
        upscaler = upscaler.image_upscaler()
    if images:
        summary = run_jobs(upscaler.upscale_decoded, jobs, overwrite=args.overwrite,
                           provenance=None if args.no_provenance else upscaler.provenance(),
                           max_pixels=args.max_pixels, progress=not args.quiet)
        print(summary.line("upscaled", f"x{upscaler.scale} with {upscaler.name} "
                           f"({upscaler.describe()})", args.output))
        failed += summary.failed
    return 1 if failed else 0


def _add_degrade(commands: argparse._SubParsersAction) -> None:
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
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=_degrade)


def _degrade(args: argparse.Namespace) -> int:
    from vivid.training.data import make_pair

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
    summary = run_jobs(transform, jobs, overwrite=args.overwrite, progress=not args.quiet)
    print(summary.line("degraded", f"/{args.scale} ({args.method})", args.output))
    return 1 if summary.failed else 0


def _add_eval(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval", help="benchmark models on HR image folders (PSNR/SSIM/NIQE)",
        description="Paper protocol: LR by MATLAB bicubic (or blur/BD), Y channel, border "
                    "shave = scale. Prints a table; optional JSON and HTML gallery.",
    )
    parser.add_argument("--model", action="append", required=True,
                        help="'bicubic', a bundled name or a weights file (repeatable)")
    parser.add_argument("--dataset", action="append", required=True, type=Path,
                        help="folder of HR images (repeatable)")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--degradation", choices=DEGRADATIONS, default="bicubic")
    parser.add_argument("--rgb", action="store_true",
                        help="PSNR/SSIM over RGB instead of the Y channel")
    parser.add_argument("--json", type=Path, default=None, help="write all numbers here")
    parser.add_argument("--gallery", type=Path, default=None, help="write an HTML page here")
    parser.add_argument("--niqe-model", type=Path, default=None,
                        help="NIQE pristine model (.npz); default: $VIVID_DATA/NIQE/... or "
                             "../shared/data/NIQE/niqe_pris_params.npz if present")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="fp32 (default) keeps the numbers independent of the CPU")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=_eval)


def _eval(args: argparse.Namespace) -> int:
    from vivid.evaluation.evaluate import evaluate, find_niqe_model, format_table, write_json
    from vivid.evaluation.gallery import Gallery

    niqe_model = find_niqe_model(args.niqe_model)
    if niqe_model is None:
        print("note: no NIQE model found (--niqe-model); NIQE is left out", file=sys.stderr)
    gallery = Gallery(args.scale) if args.gallery else None
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _warn_one_line
        report = evaluate(args.model, args.dataset, args.scale, args.degradation, niqe_model,
                          args.device, gallery.add if gallery else None, not args.quiet,
                          not args.rgb, precision=args.precision)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
        print(f"numbers -> {args.json}")
    if gallery is not None:
        print(f"gallery -> {gallery.write(args.gallery, report)}")
    return 0


def _warn_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train a generator (one stage per run)",
        description="Train stage srresnet, srgan or video from a TOML config (see configs/).",
    )
    parser.add_argument("config", type=Path, help="TOML config file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.iterations=1000")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from vivid.training.config import load_config
    from vivid.training.loop import run_training

    config = load_config(args.config, args.set)
    out_dir = args.out or Path("runs") / args.config.stem
    result = run_training(config, out_dir, resume=args.resume, progress=not args.quiet,
                          device=args.device)
    state = "finished" if result.finished else "stopped (resume with --resume)"
    print(f"training {state} at iteration {result.iteration} -> {out_dir}")
    return 0


def _add_export(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export", help="checkpoint -> inference weights (.safetensors), or a model -> ONNX",
        description="-o: write the generator of a training checkpoint (its EMA when present) "
                    "as vivid .safetensors with metadata. --onnx: export any model (bundled "
                    "name, weights file, checkpoint) to ONNX with dynamic batch/height/width.",
    )
    parser.add_argument("source", type=Path, help="a checkpoints/iter-*.pt file, a run folder "
                        "(its newest checkpoint), or (with --onnx) any model")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("-o", "--output", type=Path, help="inference weights to write")
    target.add_argument("--onnx", type=Path, help="ONNX file to write")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from vivid.training.checkpoints import export_checkpoint, list_checkpoints

    source = args.source
    if source.is_dir():
        found = list_checkpoints(source / "checkpoints") or list_checkpoints(source)
        if not found:
            raise VividError(f"{source}: no checkpoints in this folder")
        source = found[-1]
    if args.onnx:
        from vivid.inference.onnx_runtime import export_onnx

        scale = export_onnx(source, args.onnx)
        print(f"exported {source} (x{scale}, BatchNorm folded, fp32) -> {args.onnx}")
        return 0
    metadata = export_checkpoint(source, args.output)
    print(f"exported {source} ({metadata['stage']}, {metadata['iterations']} iterations, "
          f"{'EMA' if metadata['ema'] else 'raw'} weights) -> {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vivid", description=__doc__)
    parser.add_argument("--version", action="version", version=f"vivid {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_upscale(commands)
    _add_degrade(commands)
    _add_eval(commands)
    _add_train(commands)
    _add_export(commands)
    add_mos_commands(commands)
    add_eval_video(commands)
    add_bench_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vivid`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    raise_on_sigterm()  # temporary files are then removed as on Ctrl-C
    try:
        return args.handler(args)
    except VividError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        print("terminated" if isinstance(stop, Terminated) else "interrupted", file=sys.stderr)
        return Terminated.exit_code if isinstance(stop, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())

"""``vivid train`` (one stage per run, from a TOML config) and ``vivid export``."""

from __future__ import annotations

import argparse
from pathlib import Path

from vivid.cli.options import add_device_options, add_output_options
from vivid.errors import VividError
from vivid.training.config_checks import STAGES


def add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train a generator (one stage per run)",
        description=f"Train one stage ({', '.join(STAGES)}; run.stage of the config) from a "
                    "TOML config (presets in configs/).",
    )
    parser.add_argument("config", type=Path, help="TOML config file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.iterations=1000")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    add_device_options(parser, None, "overrides run.precision of the config")
    add_output_options(parser)
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from vivid.training.config import load_config
    from vivid.training.loop import run_training

    overrides = [*args.set, *([f"run.precision={args.precision}"] if args.precision else [])]
    config = load_config(args.config, overrides)
    out_dir = args.out or Path("runs") / args.config.stem
    result = run_training(config, out_dir, resume=args.resume, progress=not args.quiet,
                          device=args.device)
    state = "finished" if result.finished else "stopped (resume with --resume)"
    print(f"training {state} at iteration {result.iteration} -> {out_dir}")
    return 0


def add_export(commands: argparse._SubParsersAction) -> None:
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
        print(f"exported {source} (x{scale}, inference form, fp32) -> {args.onnx}")
        return 0
    metadata = export_checkpoint(source, args.output)
    print(f"exported {source} ({metadata['stage']}, {metadata['iterations']} iterations, "
          f"{'EMA' if metadata['ema'] else 'raw'} weights) -> {args.output}")
    return 0

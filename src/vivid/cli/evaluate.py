"""``vivid eval``: image models under the papers' protocol (``vivid eval-video`` is in
``cli.video``, ``vivid bench`` in ``cli.bench``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from vivid.cli.options import add_evaluation_options
from vivid.degrade import DEGRADATIONS

log = logging.getLogger(__name__)


def add_eval(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval", help="benchmark models on HR image folders (PSNR/SSIM/NIQE)",
        description="Paper protocol: LR by MATLAB bicubic (or blur/BD), Y channel, border "
                    "shave = scale. Prints a table; optional JSON and HTML gallery.",
    )
    parser.add_argument("--model", action="append", required=True,
                        help="'bicubic', a bundled name or a weights file (repeatable)")
    parser.add_argument("--dataset", action="append", required=True, type=Path,
                        help="folder of HR images (repeatable)")
    parser.add_argument("--gallery", type=Path, default=None, help="write an HTML page here")
    parser.add_argument("--degradation", choices=DEGRADATIONS, default="bicubic")
    parser.add_argument("--rgb", action="store_true",
                        help="PSNR/SSIM over RGB instead of the Y channel")
    add_evaluation_options(parser)
    parser.set_defaults(handler=_eval)


def _eval(args: argparse.Namespace) -> int:
    from vivid.evaluation.evaluate import evaluate, find_niqe_model, format_table, write_json
    from vivid.evaluation.gallery import Gallery

    niqe_model = find_niqe_model(args.niqe_model)
    if niqe_model is None:
        log.warning("no NIQE model found (--niqe-model); NIQE is left out")
    gallery = Gallery(args.scale) if args.gallery else None
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

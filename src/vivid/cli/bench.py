"""``vivid bench``: inference speed against the raw engines and this machine's practical
peak, and the peak memory of a 2000x2000 upscale (see ``vivid.evaluation.bench``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vivid.atomic import write_text
from vivid.cli.options import add_output_options
from vivid.evaluation import bench


def add_bench(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("bench", help="inference speed vs the raw engines and the "
                                 "machine's peak; peak memory",
                                 description=bench.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the 2000x2000 peak-memory run")
    parser.add_argument("--compile", action="store_true",
                        help="also time the torch path under torch.compile")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    add_output_options(parser)
    parser.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    results = bench.run(args.repeats, not args.no_memory, args.compile, say=print)
    if args.json:
        write_text(args.json, json.dumps(results, indent=2))
        print(f"numbers -> {args.json}")
    return 0

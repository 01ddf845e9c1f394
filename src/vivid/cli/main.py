"""The ``vivid`` command line. Each subcommand maps its flags onto the library's own API;
errors are one line on stderr, exit code 2 for bad options or models, 1 for failed inputs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vivid._version import __version__
from vivid.atomic import Terminated, raise_on_sigterm
from vivid.cli.bench import add_bench
from vivid.cli.evaluate import add_eval
from vivid.cli.images import add_degrade, add_upscale
from vivid.cli.live import add_live
from vivid.cli.mos import add_mos_commands
from vivid.cli.options import configure_logging
from vivid.cli.train import add_export, add_train
from vivid.cli.video import add_eval_video
from vivid.errors import VividError

log = logging.getLogger("vivid")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vivid", description="Photo-realistic 4x super-resolution of images and videos "
        "(SRGAN). 'vivid COMMAND --help' shows a command's options; 'vivid upscale --help' "
        "lists the models.")
    parser.add_argument("--version", action="version", version=f"vivid {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_upscale, add_degrade, add_eval, add_train, add_export, add_mos_commands,
                add_eval_video, add_bench, add_live):
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vivid`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args)
    raise_on_sigterm()  # temporary files are then removed as on Ctrl-C
    try:
        return args.handler(args)
    except VividError as error:
        log.error("%s", error)
        return 2
    except KeyboardInterrupt as stop:
        print("terminated" if isinstance(stop, Terminated) else "interrupted", file=sys.stderr)
        return Terminated.exit_code if isinstance(stop, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())

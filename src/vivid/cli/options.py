"""Options every command shares, defined once: ``--device``/``--precision`` (the policy is
``vivid.device``'s) and ``-q``/``-v`` (progress bars and how much the log says), and the
logging set-up that prints library messages to stderr."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from vivid.device import DEVICE_HELP, PRECISIONS, parse_device
from vivid.errors import VividError


def _device(text: str) -> str:
    try:
        parse_device(text)
    except VividError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return text


AUTO_HELP = "auto: fp16 on GPUs, bf16 on CPUs with native bf16, else fp32"
FP32_HELP = "fp32 (default) keeps the numbers independent of the CPU"


def add_device_options(parser: argparse.ArgumentParser, precision: str | None = "auto",
                       precision_help: str = AUTO_HELP) -> None:
    """``--device`` and ``--precision`` (default ``precision``; None: not given)."""
    parser.add_argument("--device", type=_device, default="auto", help=DEVICE_HELP)
    parser.add_argument("--precision", choices=PRECISIONS, default=precision,
                        help=precision_help)


def add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    """What ``eval`` and ``eval-video`` share: scale, JSON output, NIQE model, device (fp32)."""
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="write all numbers here")
    parser.add_argument("--niqe-model", type=Path, default=None,
                        help="NIQE pristine model (.npz); default: $VIVID_DATA/NIQE/... or "
                             "../shared/data/NIQE/niqe_pris_params.npz if present")
    add_device_options(parser, "fp32", FP32_HELP)
    add_output_options(parser)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``-q/--quiet``: no progress bars, warnings and errors only; ``-v/--verbose``: details."""
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars; print only warnings and errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="print details (debug log)")


class _Handler(logging.Handler):
    """One line per message on stderr, through tqdm so progress bars stay intact."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "" if record.levelno <= logging.INFO else f"{record.levelname.lower()}: "
        message = record.getMessage()
        if record.name == "py.warnings":  # "file:line: Category: text\n  source line"
            message = message.strip().splitlines()[0].split(": ", 2)[-1]
        tqdm.write(prefix + message, file=sys.stderr)


def configure_logging(args: argparse.Namespace) -> None:
    """The ``vivid`` logger's level from ``-q``/``-v`` and a handler that prints to stderr."""
    logger = logging.getLogger("vivid")
    logger.handlers = [_Handler()]  # the root logger has none unless an app adds one
    level = logging.INFO
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    elif getattr(args, "quiet", False):
        level = logging.WARNING
    logger.setLevel(level)
    logging.captureWarnings(True)  # other libraries' warnings: one line each, same handler
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.handlers = [_Handler()]
    warnings_logger.propagate = False

"""``vivid live SOURCE``: real-time super-resolution of a webcam, stream or video file, shown
beside bicubic in the browser (``vivid.live``). The web stack is imported when it runs."""

from __future__ import annotations

import argparse
from importlib.util import find_spec
from pathlib import Path

from vivid.cli.options import add_device_options, add_output_options
from vivid.errors import VividError
from vivid.inference.runtimes import RUNTIMES

COMPARE_MODES = ("side", "wipe")


def add_live(commands: argparse._SubParsersAction) -> None:
    """``vivid live``."""
    parser = commands.add_parser(
        "live", help="real-time preview of a webcam, stream or file in the browser",
        description="Upscale a webcam (/dev/video0 or an index), a stream URL (rtsp, http, "
        "hls, udp, ...) or a video file live, and show it beside bicubic on a local page "
        "(side by side or a draggable wipe) with the speed; frames the model cannot keep "
        "up with are dropped, never queued.")
    parser.add_argument("source", help="webcam (/dev/video0, 0), stream URL or video file")
    parser.add_argument("--model", default=None,
                        help="any model of 'vivid upscale' (default: live-x4 once bundled, "
                        "else srgan-x4); switchable on the page")
    parser.add_argument("--loop", action="store_true", help="play a file again at its end")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="scale the source to this input size first, e.g. 320x180")
    parser.add_argument("--compare", choices=COMPARE_MODES, default="side",
                        help="how the page starts: side by side (default) or wipe")
    parser.add_argument("--record", type=Path, default=None, metavar="OUT.mp4",
                        help="also write what is shown (with the source's audio)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --record")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality for the page")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="how long to wait for a stream or webcam to answer")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto")
    add_device_options(parser)
    add_output_options(parser)
    parser.set_defaults(handler=_live)


def _require_live() -> None:
    """PyAV and the web server are there, or a one-line error with the install command."""
    missing = [name for name in ("av", "starlette", "uvicorn") if find_spec(name) is None]
    if missing:
        raise VividError(f"vivid live needs {', '.join(missing)}: run "
                         'pip install -e ".[live]" in the vivid folder')


def _live(args: argparse.Namespace) -> int:
    _require_live()
    from vivid.live.models import default_live_model
    from vivid.live.server import LiveOptions, run
    from vivid.live.source import parse_size

    if not 1 <= args.quality <= 100 or args.timeout <= 0 or not 0 <= args.port <= 65535:
        raise VividError("--quality must be 1-100, --timeout above 0, --port 0-65535")
    options = LiveOptions(
        source=args.source, model=args.model or default_live_model(), loop=args.loop,
        size=parse_size(args.size) if args.size else None, compare=args.compare,
        record=args.record, overwrite=args.overwrite, quality=args.quality,
        timeout_s=args.timeout, device=args.device, precision=args.precision,
        runtime=args.runtime)
    run(options, args.host, args.port)
    return 0

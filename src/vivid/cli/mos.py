"""``vivid mos``: the command-line side of MOS studies (see ``mos.create``, ``mos.web``,
``mos.report``, ``mos.status``). The web and statistics packages are imported only when a
step runs; nothing here imports torch."""

from __future__ import annotations

import argparse
from pathlib import Path

from vivid.errors import VividError


def _add_create(mos: argparse._SubParsersAction) -> None:
    create = mos.add_parser("create", help="collect images into a new study folder")
    create.add_argument("study", type=Path)
    create.add_argument("--method", action="append", required=True, metavar="NAME=FOLDER")
    create.add_argument("--reference", default=None, metavar="NAME=FOLDER",
                        help="the ground truth (rated blind like the methods; gives DMOS)")
    create.add_argument("--training", type=Path, default=None, metavar="FOLDER",
                        help="images for calibration (first 2) and practice (next 3); never "
                        "study images")
    create.add_argument("--per-rater", type=int, default=None,
                        help="images per rater (default: all)")
    create.add_argument("--ratings-per-image", type=int, default=None,
                        help="stop giving out an image once it has this many ratings")
    create.set_defaults(handler=_mos_create)


def _add_serve(mos: argparse._SubParsersAction) -> None:
    serve = mos.add_parser("serve", help="run the rating web app")
    serve.add_argument("study", type=Path)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--access-code", default=None)
    serve.add_argument("--min-view", type=float, default=1.0, metavar="SECONDS",
                       help="how long an image must be shown before it can be rated")
    serve.add_argument("--sessions-per-hour", type=float, default=30.0,
                       help="session starts allowed per client address (after a burst of 10)")
    serve.set_defaults(handler=_mos_serve)


def add_mos_commands(commands: argparse._SubParsersAction) -> None:
    """``vivid mos create|serve|status|report``."""
    parser = commands.add_parser("mos", help="mean opinion score studies "
                                 "(create/serve/status/report)")
    mos = parser.add_subparsers(dest="mos_command", required=True, metavar="STEP")
    _add_create(mos)
    _add_serve(mos)
    status = mos.add_parser("status", help="progress: raters, ratings per image")
    status.add_argument("study", type=Path)
    status.set_defaults(handler=_mos_status)
    report = mos.add_parser("report", help="MOS, confidence intervals, significance, plot")
    report.add_argument("study", type=Path)
    report.add_argument("--csv", type=Path, default=None, help="write every rating here")
    report.add_argument("--plot", type=Path, default=None,
                        help="MOS plot PNG (default: STUDY/mos.png)")
    report.add_argument("--screen", action="store_true",
                        help="exclude the raters that fail BT.500 screening or agreement")
    report.add_argument("--min-correlation", type=float, default=0.5,
                        help="agreement cut-off: Pearson r with the other raters")
    report.set_defaults(handler=_mos_report)


def _mos_create(args: argparse.Namespace) -> int:
    from vivid.mos.create import create_study

    plan = create_study(args.study, args.method, args.reference, args.per_rater,
                        args.training, args.ratings_per_image)
    print(f"study {args.study}: {len(plan.items)} images x {len(plan.methods)} methods "
          f"({', '.join(plan.methods)})")
    return 0


def _mos_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from vivid.mos.security import RateLimits
    from vivid.mos.web import KEEP_ALIVE_S, create_app

    if args.min_view < 0 or args.sessions_per_hour <= 0:
        raise VividError("--min-view must be >= 0 and --sessions-per-hour > 0")
    app = create_app(args.study, args.access_code, min_view_s=args.min_view,
                     limits=RateLimits(sessions_per_hour=args.sessions_per_hour))
    print(f"serving {args.study} on http://{args.host}:{args.port}/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                timeout_keep_alive=KEEP_ALIVE_S)
    return 0


def _mos_status(args: argparse.Namespace) -> int:
    from vivid.mos.status import format_status, study_status
    from vivid.mos.study import connect

    connection = connect(args.study)
    try:
        print(format_status(study_status(connection)))
    finally:
        connection.close()
    return 0


def _mos_report(args: argparse.Namespace) -> int:
    from vivid.mos.data import load_ratings
    from vivid.mos.format import format_report
    from vivid.mos.report import method_scores, plot, write_csv
    from vivid.mos.screen import screen
    from vivid.mos.study import connect

    connection = connect(args.study)
    try:
        data = load_ratings(connection)
    finally:
        connection.close()
    if not len(data):
        raise VividError(f"{args.study}: no ratings yet")
    checks = screen(data, args.min_correlation)
    print(format_report(data, checks, args.screen))
    if args.csv:
        write_csv(data, args.csv)
        print(f"ratings -> {args.csv}")
    kept = data.without({c.rater for c in checks if c.excluded}) if args.screen else data
    target = args.plot or args.study / "mos.png"
    plot(method_scores(kept), target)
    print(f"plot -> {target}")
    return 0

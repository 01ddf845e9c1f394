"""``vivid mos``: the command-line side of MOS studies (see ``mos_study``, ``mos_web``,
``mos_report``). The web and statistics packages are imported only when a step runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from vivid.errors import VividError


def add_mos_commands(commands: argparse._SubParsersAction) -> None:
    """``vivid mos create|serve|report``."""
    parser = commands.add_parser("mos", help="mean opinion score studies (create/serve/report)")
    mos = parser.add_subparsers(dest="mos_command", required=True, metavar="STEP")
    create = mos.add_parser("create", help="collect images into a new study folder")
    create.add_argument("study", type=Path)
    create.add_argument("--method", action="append", required=True, metavar="NAME=FOLDER")
    create.add_argument("--reference", default=None, metavar="NAME=FOLDER",
                        help="the ground truth (rated blind like the methods)")
    create.add_argument("--per-rater", type=int, default=None,
                        help="images per rater (default: all)")
    create.set_defaults(handler=_mos_create)
    serve = mos.add_parser("serve", help="run the rating web app")
    serve.add_argument("study", type=Path)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--access-code", default=None)
    serve.set_defaults(handler=_mos_serve)
    report = mos.add_parser("report", help="MOS, confidence intervals, significance, plot")
    report.add_argument("study", type=Path)
    report.add_argument("--csv", type=Path, default=None, help="write every rating here")
    report.add_argument("--plot", type=Path, default=None,
                        help="MOS plot PNG (default: STUDY/mos.png)")
    report.set_defaults(handler=_mos_report)


def _mos_create(args: argparse.Namespace) -> int:
    from vivid.mos_study import create_study

    plan = create_study(args.study, args.method, args.reference, args.per_rater)
    print(f"study {args.study}: {len(plan.items)} images x {len(plan.methods)} methods "
          f"({', '.join(plan.methods)})")
    return 0


def _mos_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from vivid.mos_load import KEEP_ALIVE_S
    from vivid.mos_web import create_app

    app = create_app(args.study, args.access_code)
    print(f"serving {args.study} on http://{args.host}:{args.port}/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                timeout_keep_alive=KEEP_ALIVE_S)
    return 0


def _mos_report(args: argparse.Namespace) -> int:
    from vivid.mos_report import format_report, plot, write_csv
    from vivid.mos_study import connect

    connection = connect(args.study)
    try:
        if connection.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0:
            raise VividError(f"{args.study}: no ratings yet")
        print(format_report(connection))
        if args.csv:
            write_csv(connection, args.csv)
            print(f"ratings -> {args.csv}")
        target = args.plot or args.study / "mos.png"
        plot(connection, target)
        print(f"plot -> {target}")
    finally:
        connection.close()
    return 0

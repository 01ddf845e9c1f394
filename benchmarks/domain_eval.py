"""Image models on every domain's test set and on the paper's: ``vivid eval`` (x4, MATLAB
bicubic LR, Y channel, shave 4, NIQE, fp32) once per set, since the eight
``Domains/*/test`` folders and the synthetic text domain's (``scripts/make_text_domain.py``,
made into ``data/text`` when missing) share the folder name ``test``.

``--compare OLD NEW`` adds, per set, NEW's PSNR minus OLD's and counts the domains where NEW
is higher: the domain study's rule for shipping a retrained model (beat today's on at least
6 of the 9 domains, lose no more than 0.1 dB on Set5, Set14 or BSD100). Models are bundled
names or weights files.
Usage: python benchmarks/domain_eval.py [--model M ...] [--compare OLD NEW] [--save-as NAME]
(default: bicubic + the bundled image models; about 6 minutes on 2 cores). Writes
benchmarks/results/NAME.json (default domain_eval) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from domain_study import REPO, TEXT_COUNTS, domain_folders, make_text_domain

from common import DATA, default_models, save, score_cell, vivid_eval

PAPER_SETS = ("Set5", "Set14", "BSD100")


def test_sets() -> dict[str, str]:
    """``{name: folder}`` of the nine domains' test folders, then the paper's sets (paths
    relative to the repository root, as the printed commands give them)."""
    text = make_text_domain.make_domain(REPO / "data" / "text", *TEXT_COUNTS)
    folders = {**domain_folders(DATA, text, "test"), **{s: DATA / s for s in PAPER_SETS}}
    return {name: os.path.relpath(path, REPO) for name, path in folders.items()}


def comparison(results: dict[str, dict[str, Any]], old: str, new: str) -> dict[str, Any]:
    """Per set NEW's PSNR minus OLD's (dB); the domains NEW wins; the worst paper-set change."""
    delta = {s: round(r[new]["psnr"] - r[old]["psnr"], 4) for s, r in results.items()}
    domains = [s for s in delta if s not in PAPER_SETS]
    return {"old": old, "new": new, "psnr_delta_db": delta,
            "domains_won": sum(delta[s] > 0 for s in domains), "domains": len(domains),
            "worst_paper_set_db": min(delta[s] for s in PAPER_SETS if s in delta)}


def markdown(results: dict[str, dict[str, Any]], compared: dict[str, Any] | None) -> str:
    models = list(next(iter(results.values())))
    lines = ["| set | " + " | ".join(f"`{m}` PSNR / SSIM / NIQE" for m in models)
             + (" | new - old (dB) |" if compared else " |"),
             "|---" * (len(models) + 1 + bool(compared)) + "|"]
    for name, row in results.items():
        cells = [score_cell(row[m]) for m in models]
        if compared:
            cells.append(f"{compared['psnr_delta_db'][name]:+.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"))
    parser.add_argument("--save-as", default="domain_eval", help="results/NAME.json")
    args = parser.parse_args()
    models = args.model or default_models()
    os.chdir(REPO)  # the printed commands' paths are relative to the repository root
    if args.compare and not set(args.compare) <= set(models):
        raise SystemExit(f"--compare {' '.join(args.compare)}: both must be among --model")
    commands, results = {}, {}
    for name, folder in test_sets().items():
        commands[name], report = vivid_eval(models, [folder])
        results[name] = {m: {k: entry[k] for k in ("psnr", "ssim", "niqe")}
                         for m, entry in next(iter(report["results"].values())).items()}
    compared = comparison(results, *args.compare) if args.compare else None
    table = markdown(results, compared)
    print(table)
    if compared:
        print(f"{compared['new']} above {compared['old']} on {compared['domains_won']} of "
              f"{compared['domains']} domains; worst paper set "
              f"{compared['worst_paper_set_db']:+.2f} dB")
    record = {"commands": commands, "markdown": table, "results": results,
              "comparison": compared}
    print(f"-> {save(args.save_as, record)}")


if __name__ == "__main__":
    main()

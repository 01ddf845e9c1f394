"""The domain study's report (``python benchmarks/domain_study.py --report``).

Bicubic and every finished arm (its final ``generator.safetensors``) are scored with vivid's
evaluation (``vivid.evaluation.evaluate``: x4, MATLAB-bicubic LR, PSNR/SSIM on Y with 4 pixels
shaved, fp32) on every test set: each domain's ``test/``, the text domain's, Set5, Set14 and
BSD100. The gain of an arm on a set is its mean PSNR minus bicubic's, in dB. Writes the JSON
(default ``benchmarks/results/domain_study.json``: scores with per-image PSNR, gains, the seed
spread, each arm's data, iterations and training hours, the text domain's digest), a Markdown
table of the gains (in the JSON, on stdout, and between the ``MARKS`` of the doc when it has
them) and a heatmap (default ``docs/domains.png``): the gains written in the cells, the colour
the difference from the ``narrow`` arm.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import matplotlib
import PIL
from PIL import features
from safetensors import safe_open

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from common import RESULTS, save
from vivid.evaluation.evaluate import evaluate
from vivid.training.runlog import read_records, training_hours

REPO = Path(__file__).resolve().parents[1]  # configs' paths are relative to it
MARKS = ("<!-- domain_study table -->", "<!-- /domain_study table -->")
REFERENCE = "narrow"  # the arm the heatmap's colours compare with
SEED_PAIR = ("diverse", "diverse-seed2")  # the same arm with two seeds


def score(models: dict[str, str], sets: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """``{label: {set: {psnr, ssim, images: {file: psnr}}}}`` of every model on every set."""
    results: dict[str, dict[str, Any]] = {label: {} for label in models}
    for name, folder in sets.items():
        table = evaluate(list(models.values()), [folder], progress=False)["results"][folder.name]
        for label, model in models.items():
            entry = table[model]
            results[label][name] = {
                "psnr": entry["psnr"], "ssim": entry["ssim"],
                "images": {k: round(v["psnr"], 4) for k, v in entry["images"].items()}}
    return results


def gains(scores: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Every arm's mean PSNR minus bicubic's, per set (dB)."""
    bicubic = scores["bicubic"]
    return {arm: {s: round(v["psnr"] - bicubic[s]["psnr"], 4) for s, v in sets.items()}
            for arm, sets in scores.items() if arm != "bicubic"}


def seed_spread(table: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """|gain of one seed - gain of the other| per set, when both seeds are finished."""
    if not all(arm in table for arm in SEED_PAIR):
        return None
    one, two = (table[arm] for arm in SEED_PAIR)
    return {s: round(abs(one[s] - two[s]), 4) for s in one}


def markdown(scores: dict[str, Any], table: dict[str, dict[str, float]],
             spread: dict[str, float] | None) -> str:
    """Arms x sets: gain over bicubic (dB); first row bicubic's PSNR, last the seed spread."""
    sets = list(scores["bicubic"])
    lines = ["| arm | " + " | ".join(sets) + " |", "|---" * (len(sets) + 1) + "|",
             "| bicubic (PSNR, dB) | " + " | ".join(
                 f"{scores['bicubic'][s]['psnr']:.2f}" for s in sets) + " |"]
    lines += [f"| `{arm}` | " + " | ".join(f"{row[s]:+.2f}" for s in sets) + " |"
              for arm, row in table.items()]
    if spread is not None:
        lines.append(f"| seed spread ({' vs '.join(SEED_PAIR)}) | "
                     + " | ".join(f"{spread[s]:.2f}" for s in sets) + " |")
    return "\n".join(lines)


def plot(table: dict[str, dict[str, float]], target: Path) -> None:
    """Heatmap of the gains: the number in each cell, the colour its difference from the
    ``REFERENCE`` arm (from 0 when that arm is not finished)."""
    arms, sets = list(table), list(next(iter(table.values())))
    base = table.get(REFERENCE, dict.fromkeys(sets, 0.0))
    delta = [[table[a][s] - base[s] for s in sets] for a in arms]
    limit = max(0.05, *(abs(v) for row in delta for v in row))
    figure, axes = plt.subplots(figsize=(1.6 + 0.75 * len(sets), 1.2 + 0.45 * len(arms)))
    image = axes.imshow(delta, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    for row, arm in enumerate(arms):
        for column, name in enumerate(sets):
            dark = abs(delta[row][column]) > 0.6 * limit
            axes.text(column, row, f"{table[arm][name]:+.2f}", ha="center", va="center",
                      fontsize="small", color="white" if dark else "black")
    axes.set_xticks(range(len(sets)), sets, rotation=35, ha="right")
    axes.set_yticks(range(len(arms)), arms)
    colour = f"difference from '{REFERENCE}'" if REFERENCE in table else "the gain"
    axes.set_title(f"x4 gain over bicubic (dB, PSNR on Y); colour: {colour}", fontsize="medium")
    figure.colorbar(image, ax=axes, label=f"dB vs '{REFERENCE}'" if REFERENCE in table
                    else "dB")
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=110)
    plt.close(figure)


def digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of every file under ``folder`` (sorted)."""
    hasher = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        hasher.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return hasher.hexdigest()


def training_megapixels(data: dict[str, Any]) -> float:
    """Pixels of the images an arm trains on (usable, ``data.only`` applied), in millions:
    equal image counts can be unequal data (domain crops are 192x192, photos larger)."""
    from domain_study import pixels, usable  # the rule training applies

    only = set(data.get("only", ()))
    total = sum(pixels(path) for folder in data["train"]
                for path in usable(REPO / folder, data["crop"], data.get("validation_images", ()))
                if not only or path.name in only)
    return round(total / 1e6, 2)


def recipe(config: dict[str, Any]) -> dict[str, Any]:
    """An arm's config without what arms may differ in (``data``, ``run.seed``)."""
    return {k: v for k, v in config.items() if k != "data"} | {
        "run": {k: v for k, v in config["run"].items() if k != "seed"}}


def check_same_recipe(runs: Path, arms: list[str]) -> None:
    """Exit naming the first arm whose trained config differs from the first arm's in more
    than data and seed (a ``--set`` override would have made the comparison unfair)."""
    first, *rest = (json.loads((runs / a / "config.json").read_text()) for a in arms)
    for arm, config in zip(arms[1:], rest, strict=True):
        if recipe(config) != recipe(first):
            raise SystemExit(f"{runs / arm / 'config.json'}: the recipe differs from "
                             f"{arms[0]}'s in more than data and seed")


def arm_record(run: Path) -> dict[str, Any]:
    """What an arm trained on and for how long, from its run folder (iterations: those of
    its final weights)."""
    config = json.loads((run / "config.json").read_text())
    records = read_records(run / "log.jsonl") if (run / "log.jsonl").is_file() else []
    with safe_open(run / "generator.safetensors", "pt") as weights:
        iterations = json.loads(weights.metadata()["vivid"])["iterations"]
    data = config["data"]
    return {"run": str(run), "train": data["train"], "balance": data["balance"],
            "only": len(data["only"]) or None, "seed": config["run"]["seed"],
            "megapixels": training_megapixels(data),
            "iterations": iterations,
            "hours": round(training_hours(records), 3),
            "val_psnr": next((r["val_psnr"] for r in reversed(records) if "val_psnr" in r),
                             None)}


def replace_table(doc: Path, table: str) -> bool:
    """Put ``table`` between the doc's ``MARKS``; False when the doc has no such block."""
    if not doc.is_file():
        return False
    text = doc.read_text()
    start, end = (text.find(mark) for mark in MARKS)
    if start < 0 or end < start:
        return False
    doc.write_text(text[:start + len(MARKS[0])] + "\n\n" + table + "\n\n" + text[end:])
    return True


def report(arms: tuple[str, ...], runs: Path, sets: dict[str, Path], json_path: Path | None,
           plot_path: Path, doc: Path) -> dict[str, Any]:
    """Score bicubic and the finished ``arms`` of ``runs`` on ``sets``; write the JSON, the
    plot and the doc's table; returns the JSON's content."""
    done = [a for a in arms if (runs / a / "generator.safetensors").is_file()]
    if not done:
        raise SystemExit(f"no finished arm in {runs}")
    check_same_recipe(runs, done)
    missing = [a for a in arms if a not in done]
    if missing:
        print(f"not finished, left out of the report: {', '.join(missing)}")
    scores = score({"bicubic": "bicubic",
                    **{a: str(runs / a / "generator.safetensors") for a in done}}, sets)
    table = gains(scores)
    spread = seed_spread(table)
    text = markdown(scores, table, spread)
    numbers = {"command": "python benchmarks/domain_study.py --report",
               "arms": {a: arm_record(runs / a) for a in done}, "gain_db": table,
               "seed_spread_db": spread, "missing_arms": missing, "markdown": text,
               "scores": scores,
               "text_domain": {"sha256": digest(sets["text"].parent),
                               "pillow": PIL.__version__,
                               "freetype": features.version("freetype2")}}
    json_path = json_path or RESULTS / "domain_study.json"
    print(text)
    print(f"-> {save(json_path.stem, numbers, json_path.parent)}")
    plot(table, plot_path)
    print(f"-> {plot_path}" + (f", table in {doc}" if replace_table(doc, text) else ""))
    return numbers

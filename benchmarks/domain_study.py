"""Domain study: does training on many image domains make x4 SR generalise better?

Every arm trains the same network with the same recipe for the same number of iterations;
the arms differ only in their training data (and ``diverse-seed2`` in ``run.seed``):

- ``narrow``: T91 + BSD200 (the bundled models' data), every image equally likely;
- ``diverse``: the ``train/`` folders of the eight ``Domains`` and the synthetic ``text``
  domain (``scripts/make_text_domain.py``), equal weight per domain (``data.balance =
  "folder"``);
- ``diverse-seed2``: ``diverse`` with another seed: how much results move with the seed alone;
- ``no-text``, ``no-faces``: ``diverse`` without that domain (does a domain's own data
  matter, or only diversity?);
- ``diverse-equal-count``: as many images as ``narrow`` trains on, drawn from all nine domains
  (equal shares where a domain has enough, a fixed random choice; ``data.only``): diversity at
  equal size;
- ``narrow-plus-diverse``: T91 + BSD200 and the nine domains together, every image equally
  likely (the data a retrained bundled model would use: does adding the domains to today's
  data help out of domain without costing on the photo benchmarks?);
- ``narrow-equal-pixels``: T91 + BSD200 images, a fixed random choice holding no more pixels
  than ``diverse`` trains on (``data.only``): the domain crops are 192x192 and the photos
  larger, so ``diverse`` holds about a third of ``narrow``'s pixels; this arm tells the cost of
  less data from the cost of diversity.

Recipe: that of the bundled ``srresnet-x4`` (``configs/vivid-srresnet-x4.toml``: L1, Adam 2e-4
with cosine decay, EMA 0.999, batch 16 of 96x96 crops, the same 10 BSD200 validation images,
seed 1) on a smaller network, 8 blocks of 32 channels, from scratch, 30,000 iterations. The
final (EMA) weights are scored; nothing of any ``test/`` folder is trained on or used to pick
a checkpoint (the validation images are only logged).

Budget: CPU time per iteration with one thread, measured (2 cores shared with another training
run, so CPU seconds rather than wall time): 0.215 s at 8 blocks x 32 channels, 0.58 s at 8 x 64,
0.775 s at 16 x 64. The last takes 0.389 s of wall time with both cores alone
(``benchmarks/results/train_speed.json``), so 8 x 32 should take about 0.11 s per iteration:
30,000 iterations about 0.9 h per arm, plus about 10 minutes for the report. 8 x 64 would
allow only about 12,000 iterations in the same time. Measured since (the runs' logs): 0.07 s
per iteration with both cores of a 2-core AMD EPYC Zen 5, about 35 minutes per arm.

Usage (from anywhere; paths in the configs are relative to the repository root):
  python benchmarks/domain_study.py --arm narrow   # one arm; a stopped arm resumes
  python benchmarks/domain_study.py --arm all      # every unfinished arm, one after another
  python benchmarks/domain_study.py --report       # score the finished arms (domain_report.py)
  python benchmarks/domain_study.py --arm all --report   # the whole study in one command
Configs: configs/domains/ARM.toml (written before an arm runs; ``--configs`` writes all);
runs: runs/domains/ARM.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from common import DATA, finished, train_to_end
from vivid.errors import VividError
from vivid.images.listing import list_images
from vivid.training.config import load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import make_text_domain  # noqa: E402

PRESET = REPO / "configs" / "vivid-srresnet-x4.toml"
NETWORK = {"blocks": 8, "channels": 32}
ITERATIONS = 30_000
LEAVE_OUT = ("text", "faces")
TEXT_COUNTS = (36, 12)  # train, test pages of the text domain
ARMS = ("narrow", "diverse", "diverse-seed2", *(f"no-{d}" for d in LEAVE_OUT),
        "diverse-equal-count", "narrow-plus-diverse", "narrow-equal-pixels")


def domain_folders(data: Path, text: Path, split: str) -> dict[str, Path]:
    """``split`` folder of every domain of ``data/Domains``, then of the text domain."""
    domains = sorted(d for d in (data / "Domains").iterdir() if (d / split).is_dir())
    return {**{d.name: d / split for d in domains}, "text": text / split}


def _side(path: Path) -> int:
    with Image.open(path) as image:
        return min(image.size)


def usable(folder: Path, crop: int, held_out: Collection[str] = ()) -> list[Path]:
    """The images of ``folder`` that training would use: not held out, at least a crop."""
    return [p for p in list_images(folder) if p.name not in held_out and _side(p) >= crop]


def shares(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` images over domains as equally as their sizes allow: a domain with
    fewer than its share gives all it has, the rest is split evenly (first names get the
    remainder). The shares sum to ``total``."""
    if total > sum(sizes.values()):
        raise VividError(f"{total} images wanted, the domains hold {sum(sizes.values())}")
    left, result = sorted(sizes, key=lambda d: (sizes[d], d)), {}
    while left and sizes[left[0]] <= total // len(left):
        result[left[0]] = sizes[left[0]]
        total -= sizes[left.pop(0)]
    base, extra = divmod(total, len(left)) if left else (0, 0)
    for rank, name in enumerate(sorted(left)):
        result[name] = base + (rank < extra)
    return {name: result[name] for name in sizes}


def equal_count(folders: dict[str, Path], total: int, crop: int) -> list[str]:
    """``total`` file names from ``folders``, ``shares`` of them per domain, chosen by
    ``numpy.random.default_rng(0)`` per domain over its sorted usable names."""
    names = {d: sorted(p.name for p in usable(f, crop)) for d, f in folders.items()}
    chosen = []
    for domain, count in shares({d: len(n) for d, n in names.items()}, total).items():
        picks = np.random.default_rng(0).permutation(len(names[domain]))[:count]
        chosen += sorted(names[domain][i] for i in picks)
    return chosen


def pixels(path: Path) -> int:
    """Width x height of an image file (its header only)."""
    with Image.open(path) as image:
        return image.size[0] * image.size[1]


def equal_pixels(folders: list[Path], budget: int, crop: int, held_out: Collection[str]
                 ) -> list[str]:
    """File names from ``folders``: their usable images visited in the order of
    ``numpy.random.default_rng(0)``, each taken if the pixels taken so far plus its own stay
    within ``budget``."""
    paths = sorted((p for f in folders for p in usable(f, crop, held_out)), key=lambda p: p.name)
    chosen, total = [], 0
    for index in np.random.default_rng(0).permutation(len(paths)):
        if total + pixels(paths[index]) <= budget:
            chosen.append(paths[index].name)
            total += pixels(paths[index])
    return sorted(chosen)


def _relative(path: Path) -> str:
    return os.path.relpath(path, REPO)


def arm_configs(data: Path, text: Path) -> dict[str, dict[str, Any]]:
    """Every arm's full config (TOML-able dicts): the preset's recipe with ``NETWORK`` and
    ``ITERATIONS``, and the arm's data (and seed)."""
    base = tomllib.loads(PRESET.read_text())
    base["model"].update(NETWORK)
    base["optim"]["iterations"] = ITERATIONS
    base["data"]["validation"] = _relative(data / "BSD200")
    base["run"].update(validate_every=2000, checkpoint_every=1000, keep_checkpoints=1)
    crop, held_out = base["data"]["crop"], set(base["data"]["validation_images"])
    narrow = [data / "T91", data / "BSD200"]
    domains = domain_folders(data, text, "train")
    count = sum(len(usable(f, crop, held_out)) for f in narrow)
    every = {"train": [_relative(f) for f in domains.values()], "balance": "folder"}
    diverse_pixels = sum(pixels(p) for f in domains.values() for p in usable(f, crop))
    parts: dict[str, dict[str, Any]] = {
        "narrow": {"data": {"train": [_relative(f) for f in narrow]}},
        "diverse": {"data": every},
        "diverse-seed2": {"data": every, "run": {"seed": 2}},
        **{f"no-{d}": {"data": {**every, "train": [_relative(f) for n, f in domains.items()
                                                   if n != d]}} for d in LEAVE_OUT},
        "diverse-equal-count": {"data": {**every, "only": equal_count(domains, count, crop)}},
        "narrow-plus-diverse": {"data": {"train": [_relative(f) for f in
                                                   [*narrow, *domains.values()]]}},
        "narrow-equal-pixels": {"data": {"train": [_relative(f) for f in narrow], "only":
                                         equal_pixels(narrow, diverse_pixels, crop, held_out)}},
    }
    configs = {}
    for arm, part in parts.items():
        config = copy.deepcopy(base)
        for section, values in part.items():
            config[section].update(values)
        configs[arm] = config
    return configs


def to_toml(config: dict[str, Any], comment: str) -> str:
    """TOML text of a config (JSON scalars are TOML scalars; long lists one item a line)."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    for section, values in config.items():
        lines += ["", f"[{section}]"]
        for key, value in values.items():
            text = json.dumps(value)
            if isinstance(value, list) and len(text) > 80:
                text = "[\n" + "".join(f"    {json.dumps(v)},\n" for v in value) + "]"
            lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def write_configs(data: Path, text: Path, folder: Path) -> dict[str, Path]:
    """Write ``folder/ARM.toml`` for every arm, each checked by loading it."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for arm, config in arm_configs(data, text).items():
        comment = (f"Domain study, arm {arm!r}: written by benchmarks/domain_study.py (do not "
                   "edit;\nthe arms differ only in [data] and run.seed). Paths are relative "
                   "to the repository root.")
        paths[arm] = folder / f"{arm}.toml"
        paths[arm].write_text(to_toml(config, comment))
        load_config(paths[arm])
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", choices=[*ARMS, "all"], help="train this arm (or all)")
    parser.add_argument("--configs", action="store_true", help="write every arm's config")
    parser.add_argument("--report", action="store_true", help="score the finished arms")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--work", type=Path, default=REPO,
                        help="folder of configs/domains, runs/domains and data/text")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to vivid train (smoke tests only)")
    parser.add_argument("--json", type=Path, default=None, help="report JSON path")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "domains.png")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "domains.md",
                        help="doc whose marked table the report replaces")
    args = parser.parse_args(argv)
    for name in ("data", "work", "json", "plot", "doc"):
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).resolve())
    os.chdir(REPO)  # the configs' paths are relative to the repository root
    text = make_text_domain.make_domain(args.work / "data" / "text", *TEXT_COUNTS)
    runs = args.work / "runs" / "domains"
    if args.configs or args.arm:
        configs = write_configs(args.data, text, args.work / "configs" / "domains")
        for arm in ARMS if args.arm == "all" else [args.arm] if args.arm else []:
            if not finished(runs / arm):
                print(f"arm {arm}: training -> {runs / arm}", flush=True)
                train_to_end(configs[arm], runs / arm, args.set)
    if args.report:
        from domain_report import report

        report(ARMS, runs, {**domain_folders(args.data, text, "test"),
                            **{s: args.data / s for s in ("Set5", "Set14", "BSD100")}},
               args.json, args.plot, args.doc)


if __name__ == "__main__":
    main()

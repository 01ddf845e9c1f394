"""Shared bits of the benchmark scripts: where results go and what machine made them."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from vivid.atomic import write_text

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(os.environ.get("VIVID_DATA", RESULTS.parents[2] / "shared" / "data"))


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                          cwd=RESULTS.parents[1]).stdout.strip()  # pathspecs from the root


def commit() -> str:
    """The commit, with ``-dirty`` when tracked code differs from it (training runs under
    ``runs/`` and earlier results change while benchmarks run and do not count)."""
    try:
        changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".",
                       ":(exclude)runs", ":(exclude)benchmarks/results")
        return _git("describe", "--always") + ("-dirty" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def finished(run: Path) -> bool:
    """A run that reached its last iteration leaves its generator weights."""
    return (run / "generator.safetensors").is_file()


def train_to_end(config: Path, run: Path, overrides: list[str]) -> None:
    """Train (or resume) one run in this process: ``vivid train CONFIG --out RUN --resume``
    with ``--set`` for each override; exits if it did not finish (an error, or a stop by a
    signal, which vivid train ends with a checkpoint and exit code 0), so that a script
    training several runs in turn starts no later one."""
    from vivid.cli.main import main as vivid_main

    code = vivid_main(["train", str(config), "--out", str(run), "--resume", "--quiet",
                       *(a for o in overrides for a in ("--set", o))])
    if code or not finished(run):
        raise SystemExit(f"{run}: vivid train stopped before the end (exit code {code}); "
                         "run the same command again to resume")


def save(name: str, numbers: dict[str, Any], folder: Path = RESULTS) -> Path:
    """Write ``folder/<name>.json`` (default ``results/``) with date, commit and machine."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {"date": datetime.date.today().isoformat(), "commit": commit(),
              "machine": machine(), **numbers}
    return write_text(folder / f"{name}.json", json.dumps(record, indent=2) + "\n")


def score_cell(entry: dict[str, Any]) -> str:
    """``PSNR / SSIM / NIQE`` of one ``vivid eval`` entry, as the Markdown tables print it."""
    return f"{entry['psnr']:.2f} / {entry['ssim']:.4f} / {entry['niqe']:.2f}"


def vivid_eval(models: list[str], datasets: list[str]) -> tuple[str, dict[str, Any]]:
    """Run ``vivid eval`` (this environment's) on the datasets; the command as a user types it
    (``--json eval.json``) and the report it wrote."""
    arguments = [*(a for m in models for a in ("--model", m)),
                 *(a for d in datasets for a in ("--dataset", d))]
    with tempfile.TemporaryDirectory() as folder:
        vivid = str(Path(sys.executable).with_name("vivid"))
        report_path = Path(folder) / "eval.json"
        subprocess.run([vivid, "eval", *arguments, "--json", str(report_path)], check=True)
        report = json.loads(report_path.read_text())
    return shlex.join(["vivid", "eval", *arguments, "--json", "eval.json"]), report


def default_models() -> list[str]:
    """bicubic, then the bundled models, fidelity first."""
    from vivid.nets.weights_file import bundled_models

    return ["bicubic", *(m for m in ("srresnet-x4", "srgan-x4") if m in bundled_models())]


def loss_and_gradient_norm(loss_fn: Any, output: torch.Tensor) -> tuple[float, float]:
    """A loss of ``output`` and the norm of its gradient with respect to ``output``."""
    leaf = output.detach().clone().requires_grad_()
    loss = loss_fn(leaf)
    (grad,) = torch.autograd.grad(loss, leaf)
    return float(loss.detach()), float(grad.norm())

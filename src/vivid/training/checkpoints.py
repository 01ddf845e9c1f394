"""Training checkpoints: everything needed to resume a run bit-for-bit.

A checkpoint is ``OUT/checkpoints/iter-NNNNNNNN.pt``: a dict of tensors and plain values
(generator as ``params``, EMA as ``params_ema`` (so ``load_generator`` reads a checkpoint
directly), discriminator, optimisers, RNG states, iteration, config), loaded with
``torch.load(weights_only=True)``. The learning rate and the data order are functions of the
iteration, so they need no state of their own. Files are written to a temp name and renamed,
so a kill at any moment leaves the previous checkpoints intact; the newest ``keep`` stay.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vivid.atomic import temp_path
from vivid.errors import VividError
from vivid.nets.architectures import empty_network
from vivid.nets.reparam import folded_state
from vivid.nets.weights_file import save_generator
from vivid.training.config_checks import GAN_STAGES
from vivid.training.runlog import read_records

PREFIX, SUFFIX = "iter-", ".pt"


def checkpoint_path(folder: Path, iteration: int) -> Path:
    return folder / f"{PREFIX}{iteration:08d}{SUFFIX}"


def list_checkpoints(folder: Path) -> list[Path]:
    """Finished checkpoints in ``folder``, oldest first (temp files are not listed)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if p.name[len(PREFIX):-3].isdigit())


def rng_state() -> dict[str, Any]:
    """Torch, Python and NumPy global RNG states as tensors and numbers."""
    version, internal, gauss = random.getstate()
    _, keys, position, *_ = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python_version": version,
            "python_state": torch.tensor(internal, dtype=torch.int64),
            "python_gauss": gauss, "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
            "numpy_pos": int(position)}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    internal = tuple(int(v) for v in state["python_state"].tolist())
    random.setstate((state["python_version"], internal, state["python_gauss"]))
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_pos"], 0, 0.0))


def save_checkpoint(folder: Path, iteration: int, state: dict[str, Any], keep: int) -> Path:
    """Write atomically, then delete all but the newest ``keep`` checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    target = checkpoint_path(folder, iteration)
    with temp_path(target) as temp, open(temp, "wb") as file:
        torch.save({**state, "iteration": iteration}, file)
        file.flush()
        os.fsync(file.fileno())
    for old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    for stale in folder.glob(f".*{SUFFIX}"):  # left by a run killed mid-write (kill -9)
        stale.unlink(missing_ok=True)
    return target


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError) as error:
        raise VividError(f"{path}: unreadable training checkpoint ({error})") from error


def check_same_model(checkpoint: Path, config: dict[str, Any]) -> None:
    """Refuse to resume ``checkpoint`` with a config whose network differs from its own."""
    saved = json.loads(load_checkpoint(checkpoint)["config"])
    keys = [("model", k) for k in saved["model"]] + [("run", "stage")]
    for section, key in keys:
        if saved[section][key] != config[section][key]:
            raise VividError(f"{checkpoint}: was trained with {section}.{key} = "
                             f"{saved[section][key]!r}, the config asks for "
                             f"{config[section][key]!r}; use another --out")


def export_metadata(config: dict[str, Any], iteration: int, metrics: dict[str, float],
                    ema: bool) -> dict[str, Any]:
    """The metadata of inference weights made from a run (``vivid export``, end of a run)."""
    stage = config["run"]["stage"]
    folders = [*config["data"]["train"], *config["data"].get("videos", ())]
    return {"stage": stage, "data": "+".join(data_name(p) for p in folders),
            "degradation": config["data"].get("degradation", "bicubic"),
            "iterations": iteration, "metrics": metrics, "ema": ema,
            "content_layer": config["loss"]["content_layer"] if stage in GAN_STAGES else None}


def data_name(folder: str) -> str:
    """A training folder's name in weights metadata: its path below the nearest folder
    named ``data``, a trailing ``train`` left out (``../shared/data/T91`` -> ``T91``,
    ``../shared/data/Domains/urban/train`` -> ``Domains/urban``)."""
    parts = list(Path(folder).parts)
    if len(parts) > 1 and parts[-1] == "train":
        parts.pop()
    roots = [index for index, part in enumerate(parts[:-1]) if part == "data"]
    return "/".join(parts[roots[-1] + 1:] if roots else parts[-1:])


def last_validation(log: Path, iteration: int, exact: bool = False) -> dict[str, float]:
    """The newest ``val_*`` numbers logged at or before ``iteration`` (``exact``: at exactly
    ``iteration``); {} if none."""
    found: dict[str, float] = {}
    for record in read_records(log):
        logged = record["iteration"]
        if (logged == iteration if exact else logged <= iteration) and any(
                k.startswith("val_") for k in record):
            found = {k: v for k, v in record.items() if k.startswith("val_")}
    return found


def export_checkpoint(checkpoint: Path, target: Path) -> dict[str, Any]:
    """Write inference weights (EMA when present) of a training checkpoint; its metadata."""
    state = load_checkpoint(checkpoint)
    config = json.loads(state["config"])
    ema = "params_ema" in state
    params = folded_state(state["params_ema" if ema else "params"], checkpoint)
    motion = config["model"].get("motion", "network")
    generator = empty_network(params, {"motion": motion}, checkpoint)
    generator.load_state_dict(params)
    iteration = int(state["iteration"])
    metrics = last_validation(checkpoint.parent.parent / "log.jsonl", iteration)
    metadata = export_metadata(config, iteration, metrics, ema)
    save_generator(target, generator, **metadata)
    return metadata

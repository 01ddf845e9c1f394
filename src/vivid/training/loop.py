"""The training loop around the step functions of ``vivid.training.steps``: data, validation,
logging, checkpoints, resume, signals and DDP (networks and optimisers: ``training.build``).

Invariants: batch ``i`` and the learning rate at ``i`` are functions of ``i`` alone, so a
resumed run continues exactly; a checkpoint holds everything a resume needs (networks,
optimisers, EMA, RNG state, config); a non-finite loss stops the run with the last good
checkpoint kept.

Output folder layout: ``config.json`` (the resolved config), ``log.jsonl`` (one JSON object
per logged iteration and per validation), ``checkpoints/iter-*.pt``, and
``generator.safetensors`` (inference weights, EMA when enabled) at the end of the run.
"""

from __future__ import annotations

import copy
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from vivid.atomic import write_text
from vivid.errors import VividError
from vivid.nets.weights_file import save_generator
from vivid.training import distributed
from vivid.training.build import prepare
from vivid.training.checkpoints import (
    check_same_model,
    export_metadata,
    last_validation,
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from vivid.training.config import TrainConfig, config_dict
from vivid.training.data import PairedCrops
from vivid.training.datasets import load_validation, to_device, training_data, validate
from vivid.training.flow_pairs import FlowPairs
from vivid.training.flow_steps import flow_step, validate_flow
from vivid.training.runlog import RunLog, truncate
from vivid.training.steps import STEPS, Nets, Optimizers, StepContext, learning_rate_at, update_ema
from vivid.training.video_data import VideoCrops
from vivid.training.video_gan_steps import video_gan_step
from vivid.training.video_steps import validate_video, video_step

# run.stage -> (its step function, its validation function): the one place a stage is mapped.
STAGE_FUNCTIONS = {
    **{stage: (step, validate) for stage, step in STEPS.items()},
    "video-flow": (flow_step, validate_flow),
    "video": (video_step, validate_video),
    "video-gan": (video_gan_step, validate_video),
}


@dataclass
class Stop:
    """Set by SIGINT/SIGTERM: the loop checkpoints and exits after the current step."""

    requested: bool = False
    previous: dict[int, Any] = field(default_factory=dict)

    def install(self) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            self.previous[number] = signal.signal(number, self._handle)

    def _handle(self, number: int, frame: object) -> None:
        self.requested = True

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _state(nets: Nets, optimizers: Optimizers, config: TrainConfig) -> dict[str, Any]:
    state = {"params": distributed.unwrap(nets.generator).state_dict(),
             "optim_g": optimizers.generator.state_dict(), "rng": rng_state(),
             "config": json.dumps(config_dict(config))}
    if nets.discriminator is not None and optimizers.discriminator is not None:
        state["discriminator"] = distributed.unwrap(nets.discriminator).state_dict()
        state["optim_d"] = optimizers.discriminator.state_dict()
    if nets.ema is not None:
        state["params_ema"] = nets.ema.state_dict()
    return state


def _restore(nets: Nets, optimizers: Optimizers, state: dict[str, Any]) -> None:
    distributed.unwrap(nets.generator).load_state_dict(state["params"])
    optimizers.generator.load_state_dict(state["optim_g"])
    if nets.discriminator is not None and optimizers.discriminator is not None:
        distributed.unwrap(nets.discriminator).load_state_dict(state["discriminator"])
        optimizers.discriminator.load_state_dict(state["optim_d"])
    if nets.ema is not None:
        nets.ema.load_state_dict(state["params_ema"])
    set_rng_state(state["rng"])


def _resume(out_dir: Path, nets: Nets, optimizers: Optimizers) -> int:
    """Restore the newest checkpoint; log lines written after it are dropped (redone)."""
    checkpoints = list_checkpoints(out_dir / "checkpoints")
    if not checkpoints:
        return 0
    state = load_checkpoint(checkpoints[-1])
    try:
        _restore(nets, optimizers, state)
    except (RuntimeError, KeyError, ValueError) as error:  # e.g. another discriminator
        reason = str(error).strip().splitlines()[0]
        raise VividError(f"{checkpoints[-1]}: its networks do not fit this config's "
                         f"({reason}); use another --out") from error
    iteration = int(state["iteration"])
    if (out_dir / "log.jsonl").exists():
        truncate(out_dir / "log.jsonl", iteration)
    return iteration


def _finish(out_dir: Path, nets: Nets, config: TrainConfig, iteration: int,
            metrics: dict[str, float]) -> Path:
    final = nets.ema if nets.ema is not None else distributed.unwrap(nets.generator)
    target = out_dir / "generator.safetensors"
    metadata = export_metadata(config_dict(config), iteration, metrics, nets.ema is not None)
    save_generator(target, copy.deepcopy(final).float().cpu(), **metadata)
    return target


@dataclass
class TrainResult:
    numbers: dict[str, float]  # the last logged losses and validation metrics
    nets: Nets
    finished: bool
    iteration: int  # iterations done when the run returned


def _set_learning_rate(optimizers: Optimizers, rate: float) -> None:
    for optimizer in (optimizers.generator, optimizers.discriminator):
        for group in optimizer.param_groups if optimizer is not None else []:
            group["lr"] = rate * group.get("lr_factor", 1.0)


@dataclass
class _Loop:
    """Per-run pieces the iterations need (built once by ``run_training``)."""

    config: TrainConfig
    out_dir: Path
    world: distributed.World
    pairs: PairedCrops | VideoCrops | FlowPairs
    validation: list
    nets: Nets
    optimizers: Optimizers
    amp: StepContext
    log: RunLog | None  # on the main rank only

    def step(self, iteration: int) -> dict[str, float]:
        """Train on batch ``iteration`` (0-based); returns the step's numbers."""
        config, world = self.config, self.world
        rate = learning_rate_at(config.optim, iteration)
        _set_learning_rate(self.optimizers, rate)
        lr_batch, hr_batch = self.pairs.batch(config.run.seed, iteration,
                                              config.optim.batch_size, world.rank, world.size)
        step = STAGE_FUNCTIONS[config.run.stage][0]
        numbers = step(self.nets, to_device(lr_batch, world.device, config.run.channels_last),
                       to_device(hr_batch, world.device, config.run.channels_last),
                       self.optimizers, config, self.amp)
        if not all(map(_finite, numbers.values())):
            raise VividError(f"non-finite loss at iteration {iteration + 1} ({numbers}); "
                             f"stopped, the last good checkpoint is kept in {self.out_dir}")
        if self.nets.ema is not None:
            update_ema(self.nets.ema, distributed.unwrap(self.nets.generator), config.optim.ema,
                       iteration)
        return {"iteration": iteration + 1, "lr": rate, **numbers}

    def validate(self, iteration: int) -> dict[str, float]:
        score = STAGE_FUNCTIONS[self.config.run.stage][1]
        scores, samples = score(self.nets.ema or self.nets.generator, self.validation,
                                self.config.model.scale, self.amp)
        if self.log is not None:
            self.log.record({"iteration": iteration, **scores})
            self.log.images(iteration, samples)
        return scores

    def after(self, numbers: dict[str, float], bar: tqdm) -> dict[str, float]:
        """Logging, validation and checkpoints due after an iteration."""
        config, iteration = self.config.run, int(numbers["iteration"])
        if self.log is not None and iteration % config.log_every == 0:
            bar.set_postfix(loss=f"{numbers['loss']:.4g}")
            self.log.record(numbers)
        if self.validation and self.log is not None and iteration % config.validate_every == 0:
            scores = self.validate(iteration)
            bar.write(f"iteration {iteration}: " + ", ".join(
                f"{k.removeprefix('val_')} {v:.4g}" for k, v in scores.items()))
            numbers = {**numbers, **scores}
        if iteration % config.checkpoint_every == 0:
            self.checkpoint(iteration)
        return numbers

    def checkpoint(self, iteration: int) -> None:
        if self.world.is_main:
            save_checkpoint(self.out_dir / "checkpoints", iteration,
                            _state(self.nets, self.optimizers, self.config),
                            self.config.run.keep_checkpoints)
        distributed.barrier(self.world)


def _start(config: TrainConfig, out_dir: Path, resume: bool, device: str) -> tuple[_Loop, int]:
    world = distributed.setup(device)
    checkpoints = list_checkpoints(out_dir / "checkpoints")
    if checkpoints and not resume:
        raise VividError(f"{out_dir}: already has checkpoints; use --resume or another --out")
    if checkpoints:
        check_same_model(checkpoints[-1], config_dict(config))
    pairs = training_data(config)
    nets, optimizers, amp = prepare(config, world)
    start = _resume(out_dir, nets, optimizers) if resume else 0
    if world.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text(out_dir / "config.json", json.dumps(config_dict(config), indent=2))
    log = RunLog(out_dir) if world.is_main else None
    loop = _Loop(config, out_dir, world, pairs, load_validation(config), nets, optimizers, amp,
                 log)
    return loop, start


def run_training(config: TrainConfig, out_dir: Path, resume: bool = False,
                 progress: bool = True, device: str = "auto") -> TrainResult:
    """Train until ``optim.iterations`` or SIGINT/SIGTERM (then checkpoint and return)."""
    loop, iteration = _start(config, out_dir, resume, device)
    total, stop, numbers = config.optim.iterations, Stop(), {}
    bar = tqdm(total=total, initial=iteration, unit="it", dynamic_ncols=True,
               disable=not (progress and loop.world.is_main))
    stop.install()
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(config.run.deterministic, warn_only=True)
    try:
        loop.nets.generator.train()
        while iteration < total and not stop.requested:
            numbers = loop.after(loop.step(iteration), bar)
            iteration += 1
            bar.update(1)
    finally:
        bar.close()
        stop.restore()
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    if iteration % config.run.checkpoint_every:
        loop.checkpoint(iteration)
    if iteration >= total and loop.world.is_main:
        if loop.validation and not any(k.startswith("val_") for k in numbers):
            # a finished run resumed again reports what it logged instead of validating twice
            numbers = {**numbers, **(last_validation(out_dir / "log.jsonl", iteration, exact=True)
                                     or loop.validate(iteration))}
        _finish(out_dir, loop.nets, config, iteration,
                {k: v for k, v in numbers.items() if k.startswith("val_")})
    if loop.log is not None:
        loop.log.close()
    distributed.cleanup(loop.world)
    return TrainResult(numbers or {"iteration": iteration}, loop.nets, iteration >= total,
                       iteration)


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")

"""The training loop around the step functions of ``vivid.train``: data, validation,
logging, checkpoints, resume, signals and DDP.

Output folder layout: ``config.json`` (the resolved config), ``log.jsonl`` (one JSON object
per logged iteration and per validation), ``checkpoints/iter-*.pt``, and
``generator.safetensors`` (inference weights, EMA when enabled) at the end of the run.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from vivid import distributed
from vivid.checkpoint import save_generator
from vivid.config import TrainConfig, config_dict
from vivid.data import PairedCrops, list_images, make_pair
from vivid.errors import VividError
from vivid.io import read_image
from vivid.metrics import psnr, ssim
from vivid.train import (
    STEPS,
    Nets,
    Optimizers,
    StepContext,
    build_nets,
    learning_rate_at,
    training_dtype,
    update_ema,
)
from vivid.training_state import (
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


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


def _adam(params, config: TrainConfig) -> torch.optim.Adam:
    optim = config.optim
    return torch.optim.Adam(params, lr=optim.learning_rate, betas=(optim.beta1, optim.beta2))


def _state(nets: Nets, optimizers: Optimizers, config: TrainConfig) -> dict[str, Any]:
    state = {"generator": distributed.unwrap(nets.generator).state_dict(),
             "optim_g": optimizers.generator.state_dict(), "rng": rng_state(),
             "config": json.dumps(config_dict(config))}
    if nets.discriminator is not None and optimizers.discriminator is not None:
        state["discriminator"] = distributed.unwrap(nets.discriminator).state_dict()
        state["optim_d"] = optimizers.discriminator.state_dict()
    if nets.ema is not None:
        state["ema"] = nets.ema.state_dict()
    return state


def _restore(nets: Nets, optimizers: Optimizers, state: dict[str, Any]) -> None:
    distributed.unwrap(nets.generator).load_state_dict(state["generator"])
    optimizers.generator.load_state_dict(state["optim_g"])
    if nets.discriminator is not None and optimizers.discriminator is not None:
        distributed.unwrap(nets.discriminator).load_state_dict(state["discriminator"])
        optimizers.discriminator.load_state_dict(state["optim_d"])
    if nets.ema is not None:
        nets.ema.load_state_dict(state["ema"])
    set_rng_state(state["rng"])


def load_validation(config: TrainConfig) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, LR, HR) of the held-out validation images."""
    if not config.data.validation:
        return []
    names = set(config.data.validation_images)
    paths = [p for p in list_images(config.data.validation) if not names or p.name in names]
    return [(p.name, *make_pair(read_image(p).rgb, config.model.scale)) for p in paths]


@torch.no_grad()
def validate(generator: torch.nn.Module, images: list, scale: int, amp: StepContext
             ) -> dict[str, float]:
    """Mean Y-PSNR / SSIM (shave = scale) of ``generator`` on the validation images."""
    was_training = generator.training
    generator.eval()
    psnrs, ssims = [], []
    for _, lr_image, hr_image in images:
        with amp.autocast():
            sr_image = generator(lr_image.to(amp.device)).float().clamp(0, 1).cpu()
        psnrs.append(psnr(sr_image, hr_image, shave=scale).item())
        ssims.append(ssim(sr_image, hr_image, shave=scale).item())
    generator.train(was_training)
    return {"val_psnr": sum(psnrs) / len(psnrs), "val_ssim": sum(ssims) / len(ssims)}


def _log(out_dir: Path, record: dict[str, Any]) -> None:
    with open(out_dir / "log.jsonl", "a") as file:
        file.write(json.dumps(record) + "\n")


def _prepare(config: TrainConfig, world: distributed.World
             ) -> tuple[Nets, Optimizers, StepContext]:
    torch.manual_seed(config.run.seed)
    nets = build_nets(config)
    memory = torch.channels_last if config.run.channels_last else torch.contiguous_format
    for net in (nets.generator, nets.discriminator, nets.ema, nets.vgg):
        if net is not None:
            net.to(world.device, memory_format=memory)
    nets.generator = distributed.wrap(nets.generator, world, config.run.sync_batchnorm)
    optimizers = Optimizers(_adam(nets.generator.parameters(), config))
    if nets.discriminator is not None:
        nets.discriminator = distributed.wrap(nets.discriminator, world,
                                              config.run.sync_batchnorm)
        optimizers.discriminator = _adam(nets.discriminator.parameters(), config)
    if config.run.compile:
        nets.generator = torch.compile(nets.generator)
    amp = StepContext.create(world.device, training_dtype(config.run.precision, world.device))
    return nets, optimizers, amp


def _resume(out_dir: Path, nets: Nets, optimizers: Optimizers) -> int:
    checkpoints = list_checkpoints(out_dir / "checkpoints")
    if not checkpoints:
        return 0
    state = load_checkpoint(checkpoints[-1])
    _restore(nets, optimizers, state)
    return int(state["iteration"])


def _finish(out_dir: Path, nets: Nets, config: TrainConfig, iteration: int,
            metrics: dict[str, float]) -> Path:
    final = nets.ema if nets.ema is not None else distributed.unwrap(nets.generator)
    target = out_dir / "generator.safetensors"
    save_generator(target, final.float().cpu(), stage=config.run.stage,
                   data="+".join(Path(p).name for p in config.data.train),
                   iterations=iteration, metrics=metrics,
                   content_layer=config.loss.content_layer if config.run.stage == "srgan"
                   else None, ema=nets.ema is not None)
    return target


def _checkpoint(out_dir: Path, iteration: int, nets: Nets, optimizers: Optimizers,
                config: TrainConfig, world: distributed.World) -> None:
    if world.is_main:
        save_checkpoint(out_dir / "checkpoints", iteration, _state(nets, optimizers, config),
                        config.run.keep_checkpoints)
    distributed.barrier(world)


def run_training(config: TrainConfig, out_dir: Path, resume: bool = False,
                 progress: bool = True, device: str = "auto") -> dict[str, float]:
    """Train until ``optim.iterations`` (or a signal); returns the last logged numbers."""
    world = distributed.setup(device)
    if not config.data.train:
        raise VividError("data.train: no training folders given")
    pairs = PairedCrops.from_folders(config.data.train, config.model.scale, config.data.crop,
                                     config.data.validation_images, config.data.recursive)
    validation = load_validation(config)
    nets, optimizers, amp = _prepare(config, world)
    if not resume and list_checkpoints(out_dir / "checkpoints"):
        raise VividError(f"{out_dir}: already has checkpoints; use --resume or another --out")
    start = _resume(out_dir, nets, optimizers) if resume else 0
    if world.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(config_dict(config), indent=2))
    torch.use_deterministic_algorithms(config.run.deterministic, warn_only=True)
    step, stop, last = STEPS[config.run.stage], Stop(), {}
    stop.install()
    bar = tqdm(total=config.optim.iterations, initial=start, unit="it", dynamic_ncols=True,
               disable=not (progress and world.is_main))
    memory = torch.channels_last if config.run.channels_last else torch.contiguous_format
    iteration = start
    try:
        nets.generator.train()
        while iteration < config.optim.iterations and not stop.requested:
            rate = learning_rate_at(config.optim, iteration)
            for optimizer in (optimizers.generator, optimizers.discriminator):
                for group in optimizer.param_groups if optimizer is not None else []:
                    group["lr"] = rate
            lr_batch, hr_batch = pairs.batch(config.run.seed, iteration,
                                             config.optim.batch_size, world.rank, world.size)
            lr_batch = lr_batch.to(world.device, memory_format=memory)
            numbers = step(nets, lr_batch, hr_batch.to(world.device, memory_format=memory),
                           optimizers, config, amp)
            if not all(map(_finite, numbers.values())):
                raise VividError(f"non-finite loss at iteration {iteration + 1} ({numbers}); "
                                 f"stopped, the last good checkpoint is kept in {out_dir}")
            if nets.ema is not None:
                update_ema(nets.ema, distributed.unwrap(nets.generator), config.optim.ema)
            iteration += 1
            bar.update(1)
            last = {"iteration": iteration, "lr": rate, **numbers, "time": time.time()}
            if world.is_main and iteration % config.run.log_every == 0:
                bar.set_postfix(loss=f"{numbers['loss']:.4g}")
                _log(out_dir, last)
            if validation and world.is_main and iteration % config.run.validate_every == 0:
                scores = validate(nets.ema or nets.generator, validation,
                                  config.model.scale, amp)
                _log(out_dir, {"iteration": iteration, **scores, "time": time.time()})
                last.update(scores)
                bar.write(f"iteration {iteration}: val PSNR {scores['val_psnr']:.2f} dB, "
                          f"SSIM {scores['val_ssim']:.4f}")
            if iteration % config.run.checkpoint_every == 0:
                _checkpoint(out_dir, iteration, nets, optimizers, config, world)
    finally:
        bar.close()
        stop.restore()
    if iteration % config.run.checkpoint_every:
        _checkpoint(out_dir, iteration, nets, optimizers, config, world)
    if iteration >= config.optim.iterations and world.is_main:
        if validation and "val_psnr" not in last:
            last.update(validate(nets.ema or nets.generator, validation, config.model.scale,
                                 amp))
        _finish(out_dir, nets, config, iteration,
                {k: v for k, v in last.items() if k.startswith("val_")})
    distributed.cleanup(world)
    return last


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")

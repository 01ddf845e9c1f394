"""The networks and optimisers of a training run, built on its device: ``prepare``.

Invariants: the seed is set before any network is made (the same config gives the same
initial weights); every network is on the run's device and memory format before DDP wraps it;
the generator's Adam has one parameter group, or two for video stages with
``optim.recurrence_lr_factor`` != 1, each with an ``lr_factor`` the loop multiplies the
scheduled rate by.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from vivid.training import distributed
from vivid.training.config import TrainConfig
from vivid.training.config_checks import VIDEO_STAGES
from vivid.training.steps import Nets, Optimizers, StepContext, build_nets, training_dtype

log = logging.getLogger(__name__)


def generator_groups(generator: torch.nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """Adam's parameter groups for the generator: one, or (video stages with
    ``optim.recurrence_lr_factor`` != 1) the SR network and flow, then the parts that fuse the
    carried state (``recurrence_parameters``), whose rate is the schedule's x the factor
    (``lr_factor``): they start at zero or a constant beside a trained SR network."""
    network = distributed.unwrap(generator)
    everything = list(network.parameters())
    factor = config.optim.recurrence_lr_factor
    if factor == 1.0 or config.run.stage not in VIDEO_STAGES:
        return [{"params": everything, "lr_factor": 1.0}]
    fusing = network.recurrence_parameters()
    chosen = {id(p) for p in fusing}
    rest = [p for p in everything if id(p) not in chosen]
    return [{"params": rest, "lr_factor": 1.0}, {"params": fusing, "lr_factor": factor}]


def _adam(params: Any, config: TrainConfig) -> torch.optim.Adam:
    optim = config.optim
    return torch.optim.Adam(params, lr=optim.learning_rate, betas=(optim.beta1, optim.beta2),
                            fused=optim.fused)


def prepare(config: TrainConfig, world: distributed.World
            ) -> tuple[Nets, Optimizers, StepContext]:
    """Networks (seeded, on ``world.device``, DDP-wrapped, compiled if asked), their Adam
    optimisers and the autocast context of the run's precision."""
    torch.manual_seed(config.run.seed)
    nets = build_nets(config)
    memory = torch.channels_last if config.run.channels_last else torch.contiguous_format
    for net in (nets.generator, nets.discriminator, nets.ema, nets.vgg):
        if net is not None:
            net.to(world.device, memory_format=memory)
    nets.generator = distributed.wrap(nets.generator, world, config.run.sync_batchnorm)
    optimizers = Optimizers(_adam(generator_groups(nets.generator, config), config))
    if nets.discriminator is not None:
        nets.discriminator = distributed.wrap(nets.discriminator, world,
                                              config.run.sync_batchnorm)
        optimizers.discriminator = _adam(nets.discriminator.parameters(), config)
    if config.run.compile:
        nets.generator = torch.compile(nets.generator)
    amp = StepContext.create(world.device, training_dtype(config.run.precision, world.device))
    log.debug("training on %s (rank %d of %d), autocast %s", world.device, world.rank,
              world.size, amp.dtype)
    return nets, optimizers, amp

"""Two-stage SRGAN training: stage ``srresnet`` (pixel loss) then stage ``srgan`` (VGG + GAN).

Each stage is its own run (``vivid train CONFIG``); stage 2 starts from the weights stage 1
exported (``run.init``). The loop is iteration-based: batch ``i`` and the learning rate at
``i`` are functions of ``i``, so resuming from a checkpoint continues exactly. A training step
is a plain function: nets, batch, optimisers in, a dict of numbers out.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from vivid.device import resolve_precision
from vivid.errors import VividError
from vivid.nets.architectures import architecture
from vivid.nets.discriminator import Discriminator, SpatioTemporalDiscriminator
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.light import LightConfig, LightGenerator
from vivid.nets.srresnet import Generator, GeneratorConfig
from vivid.nets.vgg import VGGFeatures
from vivid.nets.weights_file import load_generator, load_vgg
from vivid.training.config import OptimSection, TrainConfig
from vivid.training.config_checks import GAN_STAGES, STAGES, VIDEO_STAGES
from vivid.training.losses import (
    content_loss,
    discriminator_loss,
    generator_adversarial_loss,
    pixel_loss,
)


@dataclass
class Nets:
    generator: nn.Module  # possibly DDP-wrapped
    discriminator: nn.Module | None = None
    ema: nn.Module | None = None
    vgg: VGGFeatures | None = None


@dataclass
class Optimizers:
    generator: torch.optim.Optimizer
    discriminator: torch.optim.Optimizer | None = None


def learning_rate_at(optim: OptimSection, iteration: int) -> float:
    """The learning rate for (0-based) ``iteration``: the schedule's, scaled by a linear
    warm-up over the first ``optim.warmup`` iterations."""
    ramp = min(1.0, (iteration + 1) / optim.warmup) if optim.warmup > 0 else 1.0
    return ramp * _scheduled_rate(optim, iteration)


def _scheduled_rate(optim: OptimSection, iteration: int) -> float:
    if optim.schedule == "constant":
        return optim.learning_rate
    if optim.schedule == "step":
        passed = iteration >= optim.step_at * optim.iterations
        return optim.learning_rate * (optim.step_factor if passed else 1.0)
    if optim.schedule == "cosine":
        progress = min(iteration / max(optim.iterations, 1), 1.0)
        low = optim.min_learning_rate
        return low + (optim.learning_rate - low) * 0.5 * (1 + math.cos(math.pi * progress))
    raise VividError(f"optim.schedule: unknown schedule {optim.schedule!r} "
                     "(constant, cosine or step)")


def training_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The autocast dtype for ``run.precision`` (the policy is ``vivid.device``'s)."""
    return resolve_precision(precision, device, training=True)


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def apply_gradients(optimizer: torch.optim.Optimizer, loss: torch.Tensor, net: nn.Module,
           grad_clip: float, scaler: torch.amp.GradScaler) -> None:
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()


def srresnet_step(nets: Nets, lr_batch: torch.Tensor, hr_batch: torch.Tensor,
                  optimizers: Optimizers, config: TrainConfig, amp: StepContext
                  ) -> dict[str, float]:
    """Stage 1: pixel loss (MSE in the paper) on the generator only."""
    with amp.autocast():
        sr_batch = nets.generator(lr_batch)
    loss = pixel_loss(sr_batch, hr_batch, config.loss.pixel)
    apply_gradients(optimizers.generator, loss, nets.generator, config.optim.grad_clip, amp.scaler)
    return {"loss": loss.item(), f"loss_{config.loss.pixel}": loss.item()}


def srgan_step(nets: Nets, lr_batch: torch.Tensor, hr_batch: torch.Tensor,
               optimizers: Optimizers, config: TrainConfig, amp: StepContext
               ) -> dict[str, float]:
    """Stage 2: D on real/fake (BCE), then G on VGG content + 1e-3 x adversarial loss."""
    assert nets.discriminator is not None and nets.vgg is not None
    assert optimizers.discriminator is not None
    with amp.autocast():
        sr_batch = nets.generator(lr_batch)
        real_logits, fake_logits = nets.discriminator(hr_batch, sr_batch.detach()).chunk(2)
    d_loss = discriminator_loss(real_logits, fake_logits)
    apply_gradients(optimizers.discriminator, d_loss, nets.discriminator, config.optim.grad_clip,
           amp.scaler_d)
    nets.discriminator.requires_grad_(False)
    with amp.autocast():
        content = content_loss(nets.vgg, sr_batch, hr_batch, config.loss.content_scale)
        adversarial = generator_adversarial_loss(nets.discriminator(sr_batch))
    nets.discriminator.requires_grad_(True)
    g_loss = content + config.loss.adversarial_weight * adversarial
    apply_gradients(optimizers.generator, g_loss, nets.generator, config.optim.grad_clip,
                    amp.scaler)
    return {"loss": g_loss.item(), "loss_content": content.item(),
            "loss_adversarial": adversarial.item(), "loss_d": d_loss.item(),
            "d_real": torch.sigmoid(real_logits.float()).mean().item(),
            "d_fake": torch.sigmoid(fake_logits.float()).mean().item()}


@dataclass
class StepContext:
    """Precision machinery shared by the steps: autocast dtype and gradient scalers."""

    device: torch.device
    dtype: torch.dtype
    scaler: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler

    @classmethod
    def create(cls, device: torch.device, dtype: torch.dtype) -> StepContext:
        enabled = device.type == "cuda" and dtype == torch.float16
        return cls(device, dtype, torch.amp.GradScaler(device.type, enabled=enabled),
                   torch.amp.GradScaler(device.type, enabled=enabled))

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.dtype)


STEPS = {"srresnet": srresnet_step, "srgan": srgan_step}


def build_generator(config: TrainConfig) -> Generator | LightGenerator:
    """The image generator ``model.architecture`` names (SRResNet or light), from
    ``run.init`` (which must be that architecture and shape) or fresh."""
    model = config.model
    light = model.architecture == "light"
    shape = (LightConfig if light else GeneratorConfig)(model.scale, model.blocks,
                                                        model.channels)
    kind = LightGenerator if light else Generator
    generator = load_generator(config.run.init) if config.run.init else (
        LightGenerator(shape, model.reparam, model.reparam_tail) if light else Generator(shape))
    if isinstance(generator, RecurrentGenerator):
        raise VividError(f"{config.run.init}: is a video model; stage {config.run.stage} "
                         "trains image models")
    if not isinstance(generator, kind):
        raise VividError(f"{config.run.init}: is a {architecture(generator)} model; "
                         f"'model.architecture' is {model.architecture}")
    if generator.config != shape:
        raise VividError(f"{config.run.init}: is {generator.config}, config asks for {shape}")
    if isinstance(generator, Generator):
        generator.subpixel_tail = config.run.subpixel_tail
    return generator


def _grown(start: RecurrentGenerator, init: str, version: int, fresh: str,
           config: GeneratorConfig | None = None, blend: bool = True) -> RecurrentGenerator:
    """A new ``version`` generator shaped as ``start`` (or as ``config``) with all of its
    weights: only the parts named ``fresh...`` keep their new start (an error names a missing
    weight otherwise)."""
    grown = RecurrentGenerator(config or start.config, blend=blend, motion=start.motion,
                               version=version)
    missing, _ = grown.load_state_dict(start.state_dict(), strict=False)
    lacking = [key for key in missing if not key.startswith(fresh)]
    if lacking:
        raise VividError(f"{init}: lacks {lacking[0]} (a version {version} model grows from "
                         f"it with only {fresh.rstrip('.')} new)")
    return grown.train()


def _deepened(start: RecurrentGenerator, init: str, blocks: int) -> RecurrentGenerator:
    """``start`` with residual blocks appended to its SR body up to ``blocks`` (``_grown``),
    each started as an identity (its second conv at zero), so it computes exactly what
    ``start`` does."""
    config = GeneratorConfig(start.config.scale, blocks, start.config.channels)
    deeper = _grown(start, init, start.version, "sr.body.", config,
                    blend=start.blend is not None)
    for block in deeper.sr.body[start.config.blocks:]:
        nn.init.zeros_(block.conv2.weight)
        nn.init.zeros_(block.conv2.bias)
    return deeper


def build_video_generator(config: TrainConfig) -> RecurrentGenerator:
    """The recurrent video generator from ``run.init``: a video model as it is (stage
    video-gan), or an SRResNet whose blocks become the SR part (stage video); fresh without.
    Its motion estimate and version are ``model``'s; a video model started from must match,
    except that version 2 grows into version 3 (its hidden state at zero) and that it may
    have fewer blocks than ``model.blocks`` (``_deepened``)."""
    shape = GeneratorConfig(config.model.scale, config.model.blocks, config.model.channels)
    motion, version = config.model.motion, config.model.frvsr_version
    if not config.run.init:
        return RecurrentGenerator(shape, motion=motion, version=version)
    start = load_generator(config.run.init)
    if isinstance(start, RecurrentGenerator):
        grows = (start.version, version) == (2, 3)
        given = start.config
        if given.blocks < shape.blocks and given == GeneratorConfig(
                shape.scale, given.blocks, shape.channels):
            start = _deepened(start, config.run.init, shape.blocks)
        if (start.config, start.motion, start.version) != (shape, motion, 2 if grows else version):
            raise VividError(f"{config.run.init}: is {given} with {start.motion} motion, "
                             f"version {start.version}; config asks for {shape} with {motion} "
                             f"motion, version {version}")
        if grows:  # version 2 plus a hidden state at zero: starts as version 2
            return _grown(start, config.run.init, version, "hidden_head.")
        if start.blend is None and config.run.stage == "video":  # e.g. from stage video-flow
            return _grown(start, config.run.init, version, "blend.")
        return start.train()
    if (start.config.scale, start.config.channels) != (shape.scale, shape.channels):
        raise VividError(f"{config.run.init}: is {start.config}, config asks for {shape}")
    if start.config.blocks < shape.blocks:
        raise VividError(f"{config.run.init}: has {start.config.blocks} blocks, "
                         f"model.blocks asks for {shape.blocks}")
    return RecurrentGenerator.from_srresnet(start, shape.blocks, motion, version)


def build_nets(config: TrainConfig) -> Nets:
    """Fresh networks for the configured stage (EMA starts as a copy of the generator): the
    recurrent video generator in the video stages, except that ``model.architecture`` light
    is the light generator in every stage (stage video runs it on each frame)."""
    stage = config.run.stage
    if stage not in STAGES:
        raise VividError(f"run.stage: {stage!r} is not one of {', '.join(STAGES)}")
    video = stage in VIDEO_STAGES
    recurrent = video and config.model.architecture == "srresnet"  # light: frame by frame
    generator = build_video_generator(config) if recurrent else build_generator(config)
    ema = copy.deepcopy(generator).requires_grad_(False) if config.optim.ema > 0 else None
    if stage not in GAN_STAGES:
        return Nets(generator, ema=ema)
    if not config.loss.vgg_weights:
        raise VividError(f"loss.vgg_weights: stage {stage} needs a VGG19 weights file")
    vgg = load_vgg(config.loss.vgg_weights, config.loss.content_layer, config.loss.vgg_input)
    # video-gan: D judges frame triplets, their warped copies and the upsampled LR (27 ch)
    discriminator: nn.Module = (SpatioTemporalDiscriminator(channels=config.model.channels)
                                if video else Discriminator(channels=config.model.channels))
    return Nets(generator, discriminator, ema, vgg)


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, decay: float, iteration: int) -> None:
    """ema <- d * ema + (1 - d) * generator, parameters and BatchNorm statistics alike.

    The decay ramps up as min(decay, (1 + i) / (10 + i)) so that the average does not drag
    the random initial weights along for thousands of iterations; averaging the BN running
    statistics too keeps them consistent with the averaged weights.
    """
    rate = 1 - min(decay, (1 + iteration) / (10 + iteration))
    for ema_param, param in zip(ema.parameters(), generator.parameters(), strict=True):
        ema_param.lerp_(param.detach(), rate)
    for ema_buffer, buffer in zip(ema.buffers(), generator.buffers(), strict=True):
        if ema_buffer.is_floating_point():
            ema_buffer.lerp_(buffer, rate)
        else:
            ema_buffer.copy_(buffer)

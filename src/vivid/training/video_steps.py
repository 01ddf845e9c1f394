"""Stage ``video``: the frame-recurrent generator trained on sequences (FRVSR's recipe).

Loss over a batch of sequences: ``pixel_weight`` (1) x the pixel loss of every output frame,
plus ``warp_weight`` x the flow network's LR warping loss (MSE between LR frame t and LR frame
t-1 warped with the estimated flow, as FRVSR; none with Farneback motion), plus
``pingpong_weight`` x TecoGAN's ping-pong loss: the sequence is run forwards and then backwards
(a_1..a_n, a_{n-1}..a_1) and the two outputs of each frame are pulled together (mean absolute
difference), which stops the recurrence from drifting. The backward half is also trained with
the pixel loss, so it is extra data, not only a regulariser. Plus ``temporal_weight`` x a
temporal loss: for each frame t > 1, the change from the previous output warped onto it (the
estimated motion, upsampled, no gradient) must match the same change of the ground truth (mean
absolute difference): flicker that the truth does not have is penalised, real change is not. It
measures what tOF measures, along the motion, and gives the recurrence a reason to carry detail
over; the pixel loss alone rewards it little (``benchmarks/video_diagnose.py``).

With ``model.architecture`` light the generator is an image generator run on each frame on its
own (``run_sequences``); the temporal loss is what ties its frames together, along the OpenCV
motion (``model.motion``) of the LR frames with their context, placed on the HR grid as
``warping.upscale_flow`` places it (centred, as MATLAB bicubic LR places its pixels; BD-made LR
sits 1.5 HR pixels off that, which the smooth flow barely notices).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vivid.metrics import mean_psnr_ssim
from vivid.motion import frame_flow
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.warping import upscale_flow, warp
from vivid.training import distributed
from vivid.training.config import TrainConfig
from vivid.training.losses import pixel_loss
from vivid.training.steps import Nets, Optimizers, StepContext, apply_gradients
from vivid.training.video_data import ValidationClip, inner

FrameMap = Callable[[list[torch.Tensor]], list[torch.Tensor]]


def pingpong(frames: torch.Tensor) -> torch.Tensor:
    """N x T x ... -> N x (2T-1) x ...: the sequence, then back to its first frame."""
    return torch.cat((frames, frames.flip(1)[:, 1:]), 1)


def warping_loss(lr_frames: torch.Tensor, flows: torch.Tensor) -> torch.Tensor:
    """MSE between LR frame t and LR frame t-1 warped by the flow estimated for frame t."""
    previous = lr_frames[:, :-1].flatten(0, 1)
    current = lr_frames[:, 1:].flatten(0, 1)
    return F.mse_loss(warp(previous, flows.flatten(0, 1)), current.float())


def pingpong_loss(sr_frames: torch.Tensor, frames: int) -> torch.Tensor:
    """Mean |forward output - backward output| of frames 1..T-1 of a ping-pong run."""
    forward = sr_frames[:, :frames - 1].float()
    backward = sr_frames[:, frames:].flip(1).float()
    return (forward - backward).abs().mean()


def temporal_loss(sr_frames: torch.Tensor, hr_frames: torch.Tensor, hr_flows: torch.Tensor,
                  context: int = 0) -> torch.Tensor:
    """Mean |(sr_t - W sr_{t-1}) - (hr_t - W hr_{t-1})| over t > 1 and the pixels within
    ``context`` of the border left out; W = warping by ``hr_flows`` (N x (T-1) x 2 x H x W,
    frame t to t-1, on the HR grid), without gradient through the flows."""
    previous = torch.cat((sr_frames[:, :-1], hr_frames[:, :-1]), 2).flatten(0, 1)
    warped = warp(previous, hr_flows.detach().flatten(0, 1)).unflatten(0, hr_flows.shape[:2])
    sr_change = sr_frames[:, 1:].float() - warped[:, :, :3]
    hr_change = hr_frames[:, 1:].float() - warped[:, :, 3:]
    return inner(sr_change - hr_change, context).abs().mean()


def is_recurrent(generator: nn.Module) -> bool:
    """Whether ``generator`` (possibly DDP-wrapped or compiled) is a recurrent generator."""
    network = distributed.unwrap(generator)
    return isinstance(getattr(network, "_orig_mod", network), RecurrentGenerator)


def run_sequences(generator: nn.Module, lr_frames: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """N x T x 3 x h x w LR sequences -> (N x T x 3 x H x W outputs, LR flows or None): a
    recurrent generator's outputs and flows, or an image generator's outputs of each frame
    on its own (N frames per call) and None."""
    if is_recurrent(generator):
        return generator(lr_frames)
    frames = [generator(lr_frames[:, t].contiguous(memory_format=torch.channels_last))
              for t in range(lr_frames.shape[1])]
    return torch.stack(frames, 1), None


def frame_motion(lr_frames: torch.Tensor, motion: str, scale: int) -> torch.Tensor:
    """N x (T-1) x 2 x H x W: the OpenCV ``motion`` from each LR frame to the one before
    (``vivid.motion.frame_flow``, as ``RecurrentGenerator.estimate_motion`` runs it), on the
    HR grid (``warping.upscale_flow``, centred placement); no gradient."""
    current, previous = lr_frames[:, 1:].flatten(0, 1), lr_frames[:, :-1].flatten(0, 1)
    flows = upscale_flow(frame_flow(current.float(), previous.float(), motion), scale)
    return flows.unflatten(0, (lr_frames.shape[0], lr_frames.shape[1] - 1))


@dataclass
class SequenceLosses:
    """A ping-pong run of the generator and the loss terms every video stage uses."""

    sr_frames: torch.Tensor  # N x T' x 3 x H x W (T' = 2T-1 with ping-pong)
    terms: dict[str, torch.Tensor]  # name -> scalar tensor (unweighted)

    def numbers(self) -> dict[str, float]:
        return {f"loss_{name}": value.item() for name, value in self.terms.items()}


def sequence_losses(nets: Nets, lr_batch: torch.Tensor, hr_batch: torch.Tensor,
                    config: TrainConfig, amp: StepContext) -> SequenceLosses:
    """Run the recurrence (forwards, then backwards with ping-pong; a light generator frame
    by frame) and compute the pixel loss, the LR warping loss, the ping-pong loss and the
    temporal loss, each without the ``data.context`` border (the generator sees it, the
    losses do not)."""
    frames, weights, context = lr_batch.shape[1], config.loss, config.data.context
    use_pingpong = weights.pingpong_weight > 0
    lr_frames = pingpong(lr_batch) if use_pingpong else lr_batch
    hr_frames = pingpong(hr_batch) if use_pingpong else hr_batch
    with amp.autocast():
        sr_frames, flows = run_sequences(nets.generator, lr_frames)
    network = distributed.unwrap(nets.generator)
    terms = {weights.pixel: pixel_loss(inner(sr_frames, context), inner(hr_frames, context),
                                       weights.pixel)}
    if flows is not None and network.flow is not None:  # a flow network to train
        terms["warp"] = warping_loss(lr_frames, flows)
    if use_pingpong:
        terms["pingpong"] = pingpong_loss(inner(sr_frames, context), frames)
    if weights.temporal_weight > 0:
        hr_flows = (frame_motion(lr_frames, config.model.motion, config.model.scale)
                    if flows is None else
                    network.upscale_flow(flows.flatten(0, 1)).unflatten(0, flows.shape[:2]))
        terms["temporal"] = temporal_loss(sr_frames, hr_frames, hr_flows, context)
    return SequenceLosses(sr_frames, terms)


def weighted_sum(terms: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    """pixel_weight x pixel (+ warp_weight x warp + pingpong_weight x pingpong +
    temporal_weight x temporal, where computed)."""
    weights = config.loss
    total = weights.pixel_weight * terms[weights.pixel]
    if "warp" in terms:
        total = total + weights.warp_weight * terms["warp"]
    if "pingpong" in terms:
        total = total + weights.pingpong_weight * terms["pingpong"]
    if "temporal" in terms:
        total = total + weights.temporal_weight * terms["temporal"]
    return total


def video_step(nets: Nets, lr_batch: torch.Tensor, hr_batch: torch.Tensor,
               optimizers: Optimizers, config: TrainConfig, amp: StepContext
               ) -> dict[str, float]:
    """One step on N x T x 3 x h x w sequences; see the module docstring."""
    losses = sequence_losses(nets, lr_batch, hr_batch, config, amp)
    loss = weighted_sum(losses.terms, config)
    apply_gradients(optimizers.generator, loss, nets.generator, config.optim.grad_clip,
                    amp.scaler)
    return {"loss": loss.item(), **losses.numbers()}


@torch.no_grad()
def validate_video(generator: torch.nn.Module, sequences: list[ValidationClip], scale: int,
                   amp: StepContext, keep: int = 3, finish: FrameMap | None = None
                   ) -> tuple[dict[str, float], list]:
    """Mean Y-PSNR / SSIM (shave = scale) over every frame of the validation sequences, and
    the middle frame of the first ``keep`` sequences (name, SR, HR) for a look. With
    ``mixed`` validation (clips with a ``degradation``) also ``val_psnr_bd`` and
    ``val_psnr_bicubic``, each over its own sequences. ``finish`` maps a sequence's output
    frames (each 1xCxHxW, clamped to [0, 1]) before scoring (benchmarks: 8-bit rounding,
    moving the output onto another grid); training scores the raw output."""
    was_training = generator.training
    generator.eval()
    pairs: dict[str | None, list] = {}
    samples = []
    for name, lr_frames, hr_frames, kind in sequences:
        with amp.autocast():
            sr_frames = run_sequences(generator, lr_frames[None].to(amp.device))[0][0]
        sr_frames = sr_frames.float().clamp(0, 1).cpu()
        if finish is not None:
            sr_frames = torch.cat(finish(list(sr_frames.split(1))))
        pairs.setdefault(kind, []).extend(
            (sr_frames[t:t + 1], hr_frames[t:t + 1]) for t in range(len(hr_frames)))
        middle = len(hr_frames) // 2
        if len(samples) < keep:
            samples.append((name, sr_frames[middle:middle + 1], hr_frames[middle:middle + 1]))
    generator.train(was_training)
    groups = {kind: (len(group), mean_psnr_ssim(group, shave=scale))
              for kind, group in pairs.items()}
    frames = sum(count for count, _ in groups.values())
    numbers = {f"val_{metric}": sum(count * scores[metric] for count, scores in groups.values())
               / frames for metric in ("psnr", "ssim")}  # the mean over every frame
    numbers |= {f"val_psnr_{kind}": scores["psnr"] for kind, (_, scores) in groups.items()
                if kind is not None}
    return numbers, samples

"""Stage ``video-flow``: the video generator's flow network learns motion from pairs whose
true motion is known (``training.flow_pairs``), before stage ``video`` trains the whole
generator. Only ``generator.flow`` gets gradients; the SR part stays as initialised.

Loss: the end-point error, the mean Euclidean distance (in LR pixels) between the estimated and
the true flow. Validation: the same error on fixed pairs made from the held-out images
(``val_epe``) and, for scale, that of a zero flow (``val_epe_zero``).

This stage runs in one process: under torchrun it stops with a message (it takes minutes).
"""

from __future__ import annotations

import torch
from torch.nn.parallel import DistributedDataParallel

from vivid.errors import VividError
from vivid.training.config import TrainConfig
from vivid.training.steps import Nets, Optimizers, StepContext, apply_gradients


def end_point_error(flow: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance of two N x 2 x h x w flows (smooth at zero for the gradient)."""
    return ((flow.float() - truth.float()).square().sum(1) + 1e-6).sqrt().mean()


def _flow_net(generator: torch.nn.Module) -> torch.nn.Module:
    if isinstance(generator, DistributedDataParallel):
        raise VividError("stage video-flow runs in one process; start it without torchrun")
    return generator.flow


def flow_step(nets: Nets, lr_pairs: torch.Tensor, flows: torch.Tensor,
              optimizers: Optimizers, config: TrainConfig, amp: StepContext
              ) -> dict[str, float]:
    """One step on N x 2 x 3 x h x w pairs (current, previous) and their N x 2 x h x w flows."""
    with amp.autocast():
        estimate = _flow_net(nets.generator)(lr_pairs[:, 0], lr_pairs[:, 1])
    loss = end_point_error(estimate, flows)
    apply_gradients(optimizers.generator, loss, nets.generator, config.optim.grad_clip,
                    amp.scaler)
    return {"loss": loss.item(), "loss_epe": loss.item()}


@torch.no_grad()
def validate_flow(generator: torch.nn.Module, pairs: list, scale: int, amp: StepContext
                  ) -> tuple[dict[str, float], list]:
    """``val_epe`` and ``val_epe_zero`` over ``pairs`` [(LR pairs, flows)]; no images."""
    flow_net = _flow_net(generator)
    errors, zero = [], []
    for lr_pairs, flows in pairs:
        with amp.autocast():
            estimate = flow_net(lr_pairs[:, 0].to(amp.device), lr_pairs[:, 1].to(amp.device))
        errors.append(end_point_error(estimate.cpu(), flows).item())
        zero.append(end_point_error(torch.zeros_like(flows), flows).item())
    return {"val_epe": sum(errors) / len(errors), "val_epe_zero": sum(zero) / len(zero)}, []

"""Which network a set of generator tensors belongs to, by their names and shapes, and the
name weights files give each (metadata ``architecture``):

- ``srresnet``: the SRGAN generator (``nets.srresnet``): it has ``body_conv`` and
  ``upsample.*`` blocks;
- ``light``: the light real-time generator (``nets.light``): a ``head`` and a ``tail`` and
  no ``body_conv``;
- ``frvsr``: the recurrent video generator (``nets.frvsr``): it has ``state_head``, its SR
  part an SRResNet under ``sr.``.

``IMAGE_ARCHITECTURES`` are those a training config's ``model.architecture`` names (the
recurrent generator of the video stages is built around an SRResNet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vivid.errors import VividError
from vivid.nets.frvsr import MOTIONS, RELIABILITY_CHANNELS, RecurrentGenerator
from vivid.nets.light import LightConfig, LightGenerator, shape_from_tensors
from vivid.nets.srresnet import Generator, GeneratorConfig

IMAGE_ARCHITECTURES = ("srresnet", "light")
AnyGenerator = Generator | LightGenerator | RecurrentGenerator


def architecture(network: torch.nn.Module) -> str:
    """``frvsr``, ``light`` or ``srresnet``: the name weights files give ``network``."""
    if isinstance(network, RecurrentGenerator):
        return "frvsr"
    return "light" if isinstance(network, LightGenerator) else "srresnet"


def describe(network: AnyGenerator) -> str:
    """E.g. 'SRResNet(x4, 16 blocks, 64 channels)' or 'light(x4, 1 blocks, 32 channels)'."""
    c = network.config
    name = "light" if isinstance(network, LightGenerator) else "SRResNet"
    return f"{name}(x{c.scale}, {c.blocks} blocks, {c.channels} channels)"


def _blocks(state: dict[str, torch.Tensor]) -> int:
    return sum(1 for key in state if key.startswith("body.") and key.endswith(".conv1.weight"))


def infer_config(state: dict[str, torch.Tensor], path: Path) -> GeneratorConfig:
    """Scale, blocks and channels of an SRResNet from its tensors' names and shapes."""
    if "head.weight" not in state:
        sample = ", ".join(sorted(state)[:3])
        raise VividError(
            f"{path}: not a vivid SRResNet state dict (no 'head.weight'; has {sample})"
        )
    channels = state["head.weight"].shape[0]
    scale = 1
    index = 0
    while f"upsample.{index}.conv.weight" in state:
        scale *= round((state[f"upsample.{index}.conv.weight"].shape[0] / channels) ** 0.5)
        index += 1
    try:
        return GeneratorConfig(scale=scale, blocks=_blocks(state), channels=channels)
    except ValueError as error:
        raise VividError(f"{path}: unsupported generator shape ({error})") from error


def is_light(state: dict[str, torch.Tensor]) -> bool:
    """Whether the tensors are a light generator's (a head and a tail, no ``body_conv``)."""
    return {"head.weight", "tail.weight"} <= set(state) and "body_conv.weight" not in state


def light_config(state: dict[str, torch.Tensor], path: Path) -> LightConfig:
    """Scale, blocks and channels of a light generator from its tensors' shapes."""
    try:
        return shape_from_tensors(state["head.weight"], state["tail.weight"], _blocks(state))
    except ValueError as error:
        raise VividError(f"{path}: unsupported light generator shape ({error})") from error


def empty_network(state: dict[str, torch.Tensor], metadata: dict[str, Any], path: Path
                  ) -> AnyGenerator:
    """The network the tensors belong to: a recurrent video generator (it has a
    ``state_head``; with a flow network if it has its tensors, else the OpenCV motion its
    metadata names, Farneback if none; its version from ``state_head``'s inputs, 3 with a
    ``hidden_head``), a light generator or an SRResNet, shaped from the tensors."""
    if "state_head.weight" in state:
        sr_state = {k.removeprefix("sr."): v for k, v in state.items() if k.startswith("sr.")}
        config = infer_config(sr_state, path)
        motion = "network" if any(k.startswith("flow.") for k in state) else "farneback"
        if motion == "farneback" and metadata.get("motion") in MOTIONS[1:]:
            motion = metadata["motion"]
        plain = 3 * config.scale * config.scale
        version = 2 if state["state_head.weight"].shape[1] == plain + RELIABILITY_CHANNELS else 1
        version = 3 if "hidden_head.weight" in state else version
        return RecurrentGenerator(config, blend="blend.0.weight" in state, motion=motion,
                                  version=version)
    if is_light(state):
        return LightGenerator(light_config(state, path))
    return Generator(infer_config(state, path))

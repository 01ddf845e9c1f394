"""Every value of a training config checked when the file is read (``config.load_config``).

Types are checked while the dataclasses are built; this module checks names and ranges, so
that a bad value fails in one line naming the file and the key, before any data is loaded
and before a run folder exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vivid.degrade import DEGRADATIONS, MIXED
from vivid.device import PRECISIONS
from vivid.errors import VividError
from vivid.nets.architectures import IMAGE_ARCHITECTURES
from vivid.nets.frvsr import MOTIONS, VERSIONS
from vivid.nets.light import LightConfig
from vivid.nets.light import receptive_radius as light_radius
from vivid.nets.vgg import VGG19_LAYERS

Rule = tuple[Callable[[Any], bool], str]


def _at_least(low: float) -> Rule:
    return (lambda v: v >= low), f"must be >= {low}"


def _above(low: float) -> Rule:
    return (lambda v: v > low), f"must be > {low}"


def _within(low: float, high: float) -> Rule:
    return (lambda v: low <= v < high), f"must be in [{low}, {high})"


def _one_of(*names: Any) -> Rule:
    return (lambda v: v in names), f"must be one of {', '.join(map(str, names))}"


VIDEO_STAGES = ("video-flow", "video", "video-gan")  # the recurrent generator
GAN_STAGES = ("srgan", "video-gan")  # with a discriminator and the VGG content loss
STAGES = ("srresnet", "srgan", *VIDEO_STAGES)
LIGHT_STAGES = ("srresnet", "srgan", "video")  # model.architecture "light" (video: per frame)
MIXED_STAGES = ("video",)  # data.degradation "mixed": the light net, frame by frame
BALANCES = ("image", "folder")  # data.balance: what each crop's draw is uniform over
RULES: dict[str, Rule] = {
    "model.scale": _one_of(2, 3, 4, 8),
    "model.blocks": _at_least(0),
    "model.channels": _at_least(1),
    "model.motion": _one_of(*MOTIONS),
    "model.frvsr_version": _one_of(*VERSIONS),
    "model.architecture": _one_of(*IMAGE_ARCHITECTURES),
    "data.crop": _at_least(8),
    "data.frames": _at_least(3),
    "data.synthetic": ((lambda v: 0 <= v <= 1), "must be in [0, 1]"),
    "data.degradation": _one_of(*DEGRADATIONS, MIXED),
    "data.balance": _one_of(*BALANCES),
    "optim.iterations": _at_least(1),
    "optim.batch_size": _at_least(1),
    "optim.learning_rate": _above(0),
    "optim.beta1": _within(0, 1),
    "optim.beta2": _within(0, 1),
    "optim.schedule": _one_of("constant", "cosine", "step"),
    "optim.step_at": ((lambda v: 0 < v <= 1), "must be in (0, 1]"),
    "optim.step_factor": _above(0),
    "optim.min_learning_rate": _at_least(0),
    "optim.warmup": _at_least(0),
    "optim.grad_clip": _at_least(0),
    "optim.ema": _within(0, 1),
    "optim.recurrence_lr_factor": _above(0),
    "loss.pixel": _one_of("mse", "l1"),
    "loss.content_layer": _one_of(*VGG19_LAYERS),
    "loss.vgg_input": _one_of("caffe", "torchvision"),
    "loss.content_scale": _above(0),
    "loss.adversarial_weight": _at_least(0),
    "loss.warp_weight": _at_least(0),
    "loss.pingpong_weight": _at_least(0),
    "loss.temporal_weight": _at_least(0),
    "loss.pixel_weight": _at_least(0),
    "loss.feature_matching_weight": _at_least(0),
    "run.stage": _one_of(*STAGES),
    "run.precision": _one_of(*PRECISIONS),
    "run.log_every": _at_least(1),
    "run.validate_every": _at_least(1),
    "run.checkpoint_every": _at_least(1),
    "run.keep_checkpoints": _at_least(1),
    "run.seed": _at_least(0),
}


def _check_image_draw(data: Any, stage: str, source: str) -> None:
    """``data.balance`` and ``data.only``: image stages only, no name twice, none held out."""
    if stage in VIDEO_STAGES and (data.balance != "image" or data.only):
        raise VividError(f"{source}: 'data.balance' and 'data.only' apply to the image stages "
                         f"only, not to stage {stage}")
    repeated = sorted({name for name in data.only if data.only.count(name) > 1})
    if repeated:
        raise VividError(f"{source}: 'data.only' names {repeated[0]!r} more than once")
    held_out = sorted(set(data.only) & set(data.validation_images))
    if held_out:
        raise VividError(f"{source}: 'data.only' names {held_out[0]!r}, which "
                         "'data.validation_images' holds out")


def _check_light(config: Any, source: str) -> None:
    """``model.reparam``: a fresh light network only. ``model.architecture`` light: its
    stages; in stage video (each frame on its own) OpenCV motion for the temporal loss, and
    nothing that needs a recurrence."""
    stage, light = config.run.stage, '"light"'
    if config.model.reparam and (config.model.architecture != "light" or config.run.init):
        raise VividError(f"{source}: 'model.reparam' trains a fresh light network: set "
                         f"'model.architecture' = {light} and no 'run.init'")
    if config.model.reparam_tail and not config.model.reparam:
        raise VividError(f"{source}: 'model.reparam_tail' extends 'model.reparam': set both")
    if config.model.architecture != "light":
        return
    if stage not in LIGHT_STAGES:
        raise VividError(f"{source}: 'model.architecture' = {light} trains in stages "
                         f"{', '.join(LIGHT_STAGES)}, not in stage {stage}")
    if stage != "video":
        return
    if config.model.motion == "network":
        raise VividError(f"{source}: stage video with 'model.architecture' = {light} takes the "
                         "temporal loss's motion from OpenCV: set 'model.motion' to "
                         f"{' or '.join(MOTIONS[1:])}")
    if config.loss.pingpong_weight > 0:
        raise VividError(f"{source}: 'loss.pingpong_weight' compares a recurrent model's two "
                         f"passes; 'model.architecture' = {light} upscales each frame on its "
                         "own: set it to 0")
    if config.optim.recurrence_lr_factor != 1:
        raise VividError(f"{source}: 'optim.recurrence_lr_factor' is for a recurrent model's "
                         f"fusing layers; 'model.architecture' = {light} has none: set it to 1")
    reach = config.model.scale * light_radius(LightConfig(config.model.scale, config.model.blocks,
                                                          config.model.channels))
    if config.data.context < reach:
        raise VividError(f"{source}: 'data.context' must be at least the light network's reach, "
                         f"{reach} HR pixels (so the losses never see its padded border), got "
                         f"{config.data.context}")


def check_values(config: Any, source: str) -> None:
    """Raise a one-line ``VividError`` for the first value outside its rule, then for
    values that contradict each other."""
    for key, (allowed, requirement) in RULES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if not allowed(value):
            raise VividError(f"{source}: '{key}' {requirement}, got {value!r}")
    data, model, optim = config.data, config.model, config.optim
    if data.crop % model.scale:
        raise VividError(f"{source}: 'data.crop' ({data.crop}) must be a multiple of "
                         f"'model.scale' ({model.scale})")
    if data.context % model.scale or data.context < 0:
        raise VividError(f"{source}: 'data.context' ({data.context}) must be a multiple of "
                         f"'model.scale' ({model.scale}), >= 0")
    if data.train_lr and len(data.train_lr) != len(data.train):
        raise VividError(f"{source}: 'data.train_lr' needs one folder per 'data.train' folder")
    _check_image_draw(data, config.run.stage, source)
    _check_light(config, source)
    if data.degradation == MIXED and (config.run.stage not in MIXED_STAGES
                                      or model.architecture != "light"):
        why = " (the recurrent network assumes bd throughout)" if model.architecture != "light" \
            and config.run.stage in VIDEO_STAGES else ""
        raise VividError(f"{source}: 'data.degradation' = \"{MIXED}\" draws bd or bicubic per "
                         f"sequence: stage {MIXED_STAGES[0]} with 'model.architecture' = "
                         f"\"light\" only{why}")
    if config.run.stage == "video-flow" and model.motion != "network":
        raise VividError(f"{source}: stage video-flow trains the flow network; it needs "
                         "'model.motion' = \"network\"")
    if model.motion != "network" and config.loss.warp_weight > 0:
        raise VividError(f"{source}: 'loss.warp_weight' trains a flow network; with "
                         f"'model.motion' = \"{model.motion}\" there is none: set it to 0")
    if config.loss.feature_matching_weight > 0 and config.run.stage != "video-gan":
        raise VividError(f"{source}: 'loss.feature_matching_weight' compares the "
                         "spatio-temporal discriminator's layers: stage video-gan only")
    if optim.min_learning_rate > optim.learning_rate:
        raise VividError(f"{source}: 'optim.min_learning_rate' must not exceed "
                         "'optim.learning_rate'")

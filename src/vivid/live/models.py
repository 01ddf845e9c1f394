"""Any model ``vivid upscale`` runs, as a live frame function: 8-bit RGB frame in (h x w x 3),
8-bit RGB frame out (sh x sw x 3), one frame per call, in order.

``bicubic`` is Pillow's (``frames.bicubic``, the page's comparison). Image models run through
``Upscaler`` (any engine; tiled by the memory budget only when a frame is too large). A video
model keeps its recurrence over the frames it is given: frames dropped before it look like
faster motion, and its scene-cut check restarts it where that is too much.
``live-x4`` (the model made for real time) is the default once it is bundled; until then the
image default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from vivid.images.imagefile import DecodedImage, ImageInfo
from vivid.images.pixels import to_uint8
from vivid.inference.loader import load_upscaler
from vivid.inference.recurrent import VideoUpscaler
from vivid.inference.upscaler import DEFAULT_MODEL, Upscaler
from vivid.live.frames import bicubic
from vivid.nets.weights_file import bundled_models

LIVE_MODEL = "live-x4"
_RGB8 = ImageInfo(mode="RGB", bit_depth=8, greyscale=False)

FrameFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LiveModel:
    """A loaded model: its name, how it runs (``engine``), its scale and frame function."""

    name: str
    engine: str
    scale: int
    run: FrameFn


def default_live_model() -> str:
    """``live-x4`` when bundled, else the image default (``srgan-x4``)."""
    return LIVE_MODEL if LIVE_MODEL in bundled_models() else DEFAULT_MODEL


def model_choices(given: str) -> list[str]:
    """What the page offers: bicubic, the bundled models, and ``given`` (e.g. a file)."""
    names = ["bicubic", *bundled_models()]
    return names if given in names else [*names, given]


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255


def _image_model(upscaler: Upscaler, rgb: np.ndarray) -> np.ndarray:
    sr_rgb, _ = upscaler.upscale_decoded(DecodedImage(_tensor(rgb), None, _RGB8))
    return sr_rgb.permute(0, 2, 3, 1)[0].numpy()  # uint8, channels-last: no copy


def _video_model(stream: Callable[[torch.Tensor], torch.Tensor], rgb: np.ndarray
                 ) -> np.ndarray:
    return to_uint8(stream(_tensor(rgb)))[0].permute(1, 2, 0).contiguous().numpy()


def load_live_model(name: str, device: str = "auto", precision: str = "auto",
                    runtime: str = "auto", scale: int = 4) -> LiveModel:
    """The model ``name`` (``bicubic``, a bundled name or a weights file) ready for frames;
    errors as ``load_upscaler``'s (one line naming the model)."""
    if name == "bicubic":
        return LiveModel(name, "Pillow bicubic", scale, partial(bicubic, scale=scale))
    upscaler = load_upscaler(name, device=device, precision=precision, runtime=runtime)
    if isinstance(upscaler, VideoUpscaler):
        engine = f"{upscaler.image_upscaler().describe()}, recurrent"
        return LiveModel(name, engine, upscaler.scale,
                         partial(_video_model, upscaler.stream()))
    return LiveModel(name, upscaler.describe(), upscaler.scale,
                     partial(_image_model, upscaler))

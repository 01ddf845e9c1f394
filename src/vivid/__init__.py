"""vivid: photo-realistic 4x super-resolution of images and videos with SRGAN.

The public API is imported lazily (``vivid.Upscaler`` loads PyTorch on first use), so that
``import vivid`` and the parts that need no PyTorch (the MOS study app) stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vivid._version import __version__
from vivid.errors import VividError

_LAZY = {
    "Discriminator": "vivid.nets.discriminator",
    "Generator": "vivid.nets.srresnet",
    "GeneratorConfig": "vivid.nets.srresnet",
    "Upscaler": "vivid.inference.upscaler",
    "VideoUpscaler": "vivid.inference.recurrent",
    "load_generator": "vivid.nets.weights_file",
    "load_upscaler": "vivid.inference.loader",
    "save_generator": "vivid.nets.weights_file",
}

if TYPE_CHECKING:  # pragma: no cover
    from vivid.inference.loader import load_upscaler
    from vivid.inference.recurrent import VideoUpscaler
    from vivid.inference.upscaler import Upscaler
    from vivid.nets.discriminator import Discriminator
    from vivid.nets.srresnet import Generator, GeneratorConfig
    from vivid.nets.weights_file import load_generator, save_generator


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'vivid' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = [
    "Discriminator",
    "Generator",
    "GeneratorConfig",
    "Upscaler",
    "VideoUpscaler",
    "VividError",
    "__version__",
    "load_generator",
    "load_upscaler",
    "save_generator",
]

"""vivid: photo-realistic 4x super-resolution of images and videos with SRGAN."""

from vivid._version import __version__
from vivid.checkpoint import load_generator, save_generator
from vivid.errors import VividError
from vivid.inference import load_upscaler
from vivid.inference.recurrent import VideoUpscaler
from vivid.models import Discriminator, Generator, GeneratorConfig
from vivid.upscale import Upscaler

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

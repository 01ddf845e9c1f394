"""``load_upscaler``: the image ``Upscaler`` or the video ``VideoUpscaler``, whichever fits a
model name or weights file; the default models for image and for video inputs."""

from __future__ import annotations

from pathlib import Path

from vivid.inference.recurrent import VideoUpscaler
from vivid.inference.upscaler import DEFAULT_MODEL, DEFAULT_TILE, DEFAULT_TILE_OVERLAP, Upscaler
from vivid.nets.weights_file import is_video_model

# The default model of ``vivid upscale`` for video inputs (images: ``DEFAULT_MODEL``). The
# GAN video model (stage video-gan, configs/vivid-video-gan-x4-next.toml) takes this place
# only once it meets its bar on Vid4 city and walk under bd (README, Videos): mean NIQE <=
# 4.3, mean tOF <= 0.33, mean PSNR >= 27.0 dB. Until then videos get the image default frame
# by frame, as before. (A video model as the default makes `--temporal` and `--runtime onnx`
# errors for videos without --model: they are for image models.)
DEFAULT_VIDEO_MODEL = DEFAULT_MODEL

# When to use each bundled model, one line each (``vivid upscale --help`` lists them; a test
# checks that every bundled model has a line). The reasons are in docs/models/*.md.
MODEL_GUIDE = {
    "srgan-x4": "photos: sharp, natural-looking texture, partly invented",
    "srresnet-x4": "faithful and smoother (higher PSNR): when closeness to the original "
                   "matters more than crispness",
    "video-x4": "videos: builds detail from neighbouring frames, the steadiest; for "
                "blurry (camera-like) low-res video, not for sharply downscaled frames",
    "video-gan-x4": "videos: as sharp as srgan-x4 and much steadier, partly invented "
                    "detail; less faithful than video-x4",
    "live-x4": "real time on a CPU (vivid live's default): a small network, softer than "
               "the others; for previews",
    "bicubic": "plain interpolation, nothing invented: a reference",
}


def load_upscaler(name_or_path: str | Path = DEFAULT_MODEL, device: str = "auto",
                  precision: str = "auto", tile: int | None = None,
                  tile_overlap: int = DEFAULT_TILE_OVERLAP, scale: int = 4,
                  runtime: str = "auto", tile_batch: int | None = None,
                  memory_budget: int | None = None) -> Upscaler | VideoUpscaler:
    """A ``VideoUpscaler`` for video weights (``video-x4``), else an ``Upscaler``, on
    ``runtime`` (video models: ``auto``, ``torch`` or ``openvino``). ``tile`` None: image
    models tile by ``memory_budget``, video models by ``DEFAULT_TILE``."""
    name = str(name_or_path)
    if name == "bicubic" or name.endswith(".onnx") or not is_video_model(name):
        return Upscaler.from_pretrained(name, device=device, precision=precision, tile=tile,
                                        tile_overlap=tile_overlap, scale=scale,
                                        runtime=runtime, tile_batch=tile_batch,
                                        memory_budget=memory_budget)
    return VideoUpscaler.from_pretrained(name, device=device, precision=precision,
                                         tile=DEFAULT_TILE if tile is None else tile,
                                         tile_overlap=tile_overlap, runtime=runtime)

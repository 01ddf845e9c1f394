"""Small video data and commands shared by the video model tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def smooth_image(size: tuple[int, int], seed: int) -> torch.Tensor:
    """1 x 3 x H x W low-frequency random image in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, size[0] // 8 + 2, size[1] // 8 + 2, generator=generator)
    return F.interpolate(coarse, size=size, mode="bicubic", align_corners=False).clamp(0, 1)


def pan(image: torch.Tensor, frames: int, size: int, step: int) -> torch.Tensor:
    """T x 3 x size x size crops of ``image`` moving ``step`` pixels right per frame."""
    return torch.cat([image[..., 4:4 + size, 4 + t * step:4 + t * step + size]
                      for t in range(frames)])


def video_data(root: Path, size: int = 64) -> tuple[Path, Path]:
    """Two 6-frame panning clips (size x size) and four stills, as PNG folders."""
    clips, stills = root / "clips", root / "stills"
    for index in range(2):
        image = smooth_image((size + 8, size + 24), seed=10 + index)
        clip = pan(image, frames=6, size=size, step=2)
        (clips / f"clip{index}").mkdir(parents=True)
        for t, frame in enumerate(clip):
            pixels = (frame.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(clips / f"clip{index}" / f"{t:08d}.png")
    stills.mkdir()
    for index in range(4):
        pixels = (smooth_image((64, 64), seed=20 + index)[0].permute(1, 2, 0).numpy() * 255)
        Image.fromarray(pixels.round().astype(np.uint8)).save(stills / f"{index}.png")
    return clips, stills


def video_train_command(data: tuple[Path, Path], out: Path, iterations: int, *extra: str
                         ) -> list[str]:
    clips, stills = data
    settings = {
        "model.blocks": 1, "model.channels": 8, "data.videos": [str(clips)],
        "data.train": [str(stills)], "data.crop": 16, "data.frames": 3,
        "data.degradation": "'bd'", "data.context": 4, "data.validation": "''",
        "optim.iterations": iterations,
        "optim.batch_size": 2, "optim.ema": 0.9, "optim.schedule": "'cosine'",
        "optim.warmup": 2, "run.init": "''", "run.checkpoint_every": 1, "run.log_every": 1,
        "run.deterministic": "true", "run.precision": "'fp32'",
    }
    values = {k: json.dumps(v) if isinstance(v, list) else v for k, v in settings.items()}
    sets = [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]
    # the video-x4 recipe (DIS motion, network version 2, context)
    recipe = REPO / "configs" / "vivid-video-x4.toml"
    return [sys.executable, "-m", "vivid", "train", str(recipe),
            "--out", str(out), "--quiet", *sets, *extra]

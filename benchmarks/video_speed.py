"""Video upscaling speed with default settings: x4 of 180x144 -> 720x576 frames.

Makes a 180x144 H.264 clip from the Vid4 'city' frames (resized to 720x576, then MATLAB
bicubic /4), then times the whole ``vivid upscale clip.mp4 -o out.mp4`` (decode, upscale,
encode, default settings): the default image model frame by frame and with ``--temporal
flow`` (engine ``auto``, and frame by frame on torch), and each bundled video model
(``video-x4``) through its recurrence (engine ``auto``, also with ``--preroll 0``, and on
torch); best of ``--runs``,
the methods taking turns so that load changes hit all of them.
Usage: python benchmarks/video_speed.py [--runs N] [--model M ...]
Writes benchmarks/results/video_speed.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from common import save
from vivid.cli.main import main as vivid
from vivid.cli.video import engine
from vivid.degrade import imresize
from vivid.inference.loader import load_upscaler
from vivid.inference.upscaler import DEFAULT_MODEL
from vivid.nets.weights_file import bundled_models, is_video_model

DATA = Path(os.environ.get("VIVID_DATA", Path(__file__).resolve().parents[2] / "shared/data"))


def make_clip(path: Path) -> int:
    """Write the 180x144 test clip; returns its frame count."""
    frames = sorted((DATA / "Vid4" / "GT" / "city").glob("*.png"))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 180, 144, "yuv420p"
        for file in frames:
            hr = Image.open(file).convert("RGB").resize((720, 576), Image.BICUBIC)
            hr_tensor = torch.from_numpy(np.asarray(hr)).permute(2, 0, 1)[None].float() / 255
            lr = (imresize(hr_tensor, 1 / 4).clamp(0, 1) * 255).round().byte()
            pixels = lr[0].permute(1, 2, 0).contiguous().numpy()
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return len(frames)


def methods(models: list[str]) -> list[tuple[str, str, str, str]]:
    """(label, model, temporal mode, runtime): image models with and without flow (engine
    ``auto``) and frame by frame on torch (what ``auto`` picks depends on the machine), video
    models through their recurrence (engine ``auto``, also without the pre-roll, and on
    torch)."""
    listed = []
    for model in models:
        if is_video_model(model):
            listed += [(model, model, "none", "auto"),
                       (f"{model} --preroll 0", model, "none", "auto"),
                       (f"{model} (torch)", model, "none", "torch")]
            continue
        listed += [(model, model, "none", "auto"), (f"{model}+flow", model, "flow", "auto"),
                   (f"{model} (torch)", model, "none", "torch")]
    return listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--save-as", default="video_speed",
                        help="results file name (one per machine, e.g. video_speed_xeon)")
    args = parser.parse_args()
    models = args.model or [DEFAULT_MODEL, *(m for m in bundled_models() if m.startswith("video"))]
    folder = Path(tempfile.mkdtemp())
    count = make_clip(folder / "clip.mp4")
    numbers: dict = {"frames": count, "size": "180x144 -> 720x576", "methods": {}}
    # What each method runs on; ``auto`` measures its choice here (once per machine), not
    # inside a timed run.
    engines = {label: engine(load_upscaler(model, runtime=runtime))
               for label, model, _, runtime in methods(models)}
    times: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for label, model, temporal, runtime in methods(models):
            start = time.perf_counter()
            assert vivid(["upscale", str(folder / "clip.mp4"), "-o", str(folder / "out.mp4"),
                          "--model", model, "--temporal", temporal, "--runtime", runtime,
                          "--overwrite", "--quiet",
                          *(["--preroll", "0"] if "--preroll 0" in label else [])]) == 0
            times.setdefault(label, []).append(time.perf_counter() - start)
    for label, seconds in times.items():
        numbers["methods"][label] = {"seconds": min(seconds), "engine": engines[label],
                                     "frames_per_second": count / min(seconds)}
        print(f"{label} ({engines[label]}): {count} frames in {min(seconds):.1f} s = "
              f"{count / min(seconds):.2f} frames/s")
    print(f"-> {save(args.save_as, numbers)}")


if __name__ == "__main__":
    main()

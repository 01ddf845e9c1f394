"""End-to-end speed of ``vivid live``: frames per second and latency for a model and size.

Generates a source clip (a textured pattern panning at WxH, ``--rate`` frames/s, H.264),
plays it looped through a live session (reader, model, composing and JPEG encoding for
the page: ``vivid.live.server.session_in_thread``) and reads the page's MJPEG stream with a
plain HTTP client, as a browser does. After ``--warmup`` seconds it counts for ``--seconds``:
the frames received per second (each part of the stream is a new frame), the median latency
from a frame's decoding to its leaving the server (every frame sent), frames dropped, and
the model's and the source's frames per second.
Acceptance (issue "vivid live"): with ``live-x4``, 320x180 -> 1280x720 at >= 24 frames/s on
2 cores with a median latency <= 150 ms; with ``srgan-x4`` the frames/s at 160x90 and 320x180.
Usage: python benchmarks/live_speed.py --model live-x4 --size 320x180 [--size ...]
[--runtime torch --runtime openvino ...] (each model x size x runtime is one row)
[--shape 2x24 ...] (an untrained light network of that shape: its cost, before training it)
Writes benchmarks/results/live_speed.json (``--save-as`` another name, ``--no-save`` none).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from common import save
from vivid.live.server import LiveOptions, session_in_thread
from vivid.live.slots import Window
from vivid.live.source import parse_size
from vivid.nets.light import LightConfig, LightGenerator
from vivid.nets.weights_file import save_generator


def write_clip(path: Path, size: tuple[int, int] = (320, 180), rate: int = 30,
               seconds: float = 4.0, audio: bool = False, seed: int = 0) -> Path:
    """A clip of a smooth random texture panning 2 pixels a frame (with a 440 Hz tone when
    ``audio``): every frame differs, and upscaling has detail to work on."""
    width, height = size
    frames = max(2, round(rate * seconds))
    noise = np.random.default_rng(seed).random((height // 4 + 2, (width + 2 * frames) // 4 + 2))
    texture = np.asarray(Image.fromarray((noise * 255).astype(np.uint8)).resize(
        (noise.shape[1] * 4, noise.shape[0] * 4), Image.Resampling.BICUBIC))
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), "w") as output:
        video = output.add_stream(codec, rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = output.add_stream("aac", rate=22050, layout="mono") if audio else None
        for index in range(frames):
            grey = texture[:height, 2 * index:2 * index + width]
            rgb = np.stack((grey, grey[::-1], np.roll(grey, index, axis=0)), axis=-1)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        if sound is not None:
            samples = np.sin(2 * np.pi * 440 * np.arange(int(22050 * seconds)) / 22050)
            for start in range(0, len(samples), 1024):
                chunk = (0.2 * samples[None, start:start + 1024]).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 22050, start
                output.mux(sound.encode(frame))
            output.mux(sound.encode(None))
    return path


def count_parts(url: str, stop: threading.Event, times: list[float]) -> None:
    """Read the MJPEG stream until ``stop``, noting when each part's boundary arrived."""
    with urllib.request.urlopen(url, timeout=30) as response:
        while not stop.is_set():
            chunk = response.read1(65536)
            if not chunk:
                return
            times.extend(time.monotonic() for _ in range(chunk.count(b"--frame\r\n")))


def measure(model: str, size: tuple[int, int], rate: int, warmup: float, seconds: float,
            runtime: str = "auto") -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "source.mp4", size, rate)
        options = LiveOptions(str(clip), model, loop=True, runtime=runtime)
        with session_in_thread(options) as (base, session):
            stop, times = threading.Event(), []
            reader = threading.Thread(target=count_parts,
                                      args=(f"{base}/stream.mjpg", stop, times), daemon=True)
            reader.start()
            time.sleep(warmup)
            pipeline = session.pipeline
            pipeline.latency = Window(size=100_000)
            dropped, decoded, start = pipeline.incoming.dropped + pipeline.upscaled.dropped, \
                pipeline.source_rate.count, time.monotonic()
            time.sleep(seconds)
            stats, latencies = pipeline.stats(), pipeline.latency.values()
            stop.set()
    received = [t for t in times if t >= start]
    return {"model": model, "input": f"{size[0]}x{size[1]}", "output": stats["output"],
            "engine": stats["engine"], "source_fps": rate,
            "fps": round(len(received) / seconds, 2),
            "median_latency_ms": round(1000 * statistics.median(latencies)) if latencies
            else None,
            "dropped": pipeline.incoming.dropped + pipeline.upscaled.dropped - dropped,
            "decoded": pipeline.source_rate.count - decoded, "model_fps": stats["model_fps"]}


def untrained_light(shape: str, folder: Path) -> str:
    """A weights file of a light generator of ``shape`` ("BxC": blocks x channels) with
    random weights (none zero, so no engine can skip a layer) in ``folder``: what a network
    of that shape costs, before training one."""
    blocks, channels = (int(n) for n in shape.split("x"))
    generator = LightGenerator(LightConfig(4, blocks, channels))
    torch.manual_seed(0)
    for parameter in generator.parameters():
        parameter.data.normal_(0, 0.02)
    path = folder / f"light-{blocks}x{channels}.safetensors"
    save_generator(path, generator, stage="video", degradation="bicubic")
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--shape", action="append", default=[],
                        help="BxC: also an untrained light network of B blocks x C channels")
    parser.add_argument("--size", action="append", default=None, help="WxH (default 320x180)")
    parser.add_argument("--runtime", action="append", default=None,
                        choices=("auto", "torch", "onnx", "openvino"),
                        help="engine (repeat to compare; default auto)")
    parser.add_argument("--rate", type=int, default=30, help="the source's frames/s")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--save-as", default="live_speed")
    parser.add_argument("--no-save", action="store_true", help="print only (smoke runs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        models = (args.model or ([] if args.shape else ["live-x4"])) + [
            untrained_light(shape, Path(folder)) for shape in args.shape]
        rows = [measure(model, parse_size(size), args.rate, args.warmup, args.seconds, runtime)
                for model in models for size in args.size or ["320x180"]
                for runtime in args.runtime or ["auto"]]
    for row in rows:
        row["model"] = row["model"].removeprefix(folder + "/")
    for row in rows:
        print(f"{row['model']} {row['input']} -> {row['output']} ({row['engine']}): "
              f"{row['fps']} frames/s, median latency {row['median_latency_ms']} ms, "
              f"{row['dropped']} of {row['decoded']} dropped")
    if not args.no_save:
        command = shlex.join(["python", "benchmarks/live_speed.py", *sys.argv[1:]])
        path = save(args.save_as, {"command": command, "rows": rows,
                                   "warmup_s": args.warmup, "seconds": args.seconds})
        print(f"-> {path}")


if __name__ == "__main__":
    main()

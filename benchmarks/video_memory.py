"""Streaming memory of a video model: peak memory of ``vivid upscale clip.mp4 --model M`` for a
300-frame and a 30-frame 320x180 clip (Vid4 'walk' frames resized, played back and forth).

Each upscale runs in its own Python process, which reports its peak resident memory (VmHWM)
at the end; the acceptance bound is 300 frames <= 1.5 x 30 frames.
Usage: python benchmarks/video_memory.py [--model video-x4]
Writes benchmarks/results/video_memory.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

from common import DATA, save

CHILD = """
import sys
from vivid.cli.main import main
code = main(sys.argv[1:])
peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]
print('peak_kib', peak, 'exit', code)
"""


def write_clip(path: Path, frames: int) -> None:
    sources = sorted((DATA / "Vid4" / "GT" / "walk").glob("*.png"))
    loop = sources + sources[-2:0:-1]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for index in range(frames):
            image = Image.open(loop[index % len(loop)]).convert("RGB").resize((320, 180))
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def peak_memory(model: str, frames: int, folder: Path) -> int:
    """KiB of peak resident memory of one `vivid upscale` of a ``frames``-frame clip."""
    clip = folder / f"clip{frames}.mp4"
    write_clip(clip, frames)
    done = subprocess.run([sys.executable, "-c", CHILD, "upscale", str(clip), "-o",
                           str(folder / f"out{frames}.mp4"), "--model", model, "--quiet"],
                          capture_output=True, text=True, check=True)
    words = done.stdout.split()
    if words[-1] != "0":
        raise SystemExit(done.stdout + done.stderr)
    return int(words[words.index("peak_kib") + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="video-x4")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    peaks = {frames: peak_memory(args.model, frames, folder) for frames in (30, 300)}
    numbers = {"model": args.model, "size": "320x180 -> 1280x720",
               "peak_mib": {str(k): v / 1024 for k, v in peaks.items()},
               "ratio_300_to_30": peaks[300] / peaks[30]}
    print(f"{args.model}: peak {peaks[30] / 1024:.0f} MiB for 30 frames, "
          f"{peaks[300] / 1024:.0f} MiB for 300 (ratio {numbers['ratio_300_to_30']:.2f})")
    print(f"-> {save('video_memory', numbers)}")


if __name__ == "__main__":
    main()

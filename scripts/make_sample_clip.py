"""Make examples/clip.mp4: the sample clip every video command of the README runs on.

A slow pan and zoom over scikit-image's 'astronaut' photo (NASA, public domain), each frame
a window of the 512x512 photo scaled down (Lanczos) to 160x120, so the clip looks like real
low-resolution video; H.264 (yuv420p) at 12 fps for 3 seconds, with a generated two-tone
chord as AAC audio, so the README's commands also show the audio being copied. Everything in
it is public domain or made here; examples/README.md states its licence (CC0 1.0).
Run: python scripts/make_sample_clip.py (needs scikit-image and PyAV: the ``test`` extra).
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
from PIL import Image
from skimage import data

SIZE = (160, 120)
FPS = 12
SECONDS = 3
SAMPLE_RATE = 22050
TARGET = Path(__file__).resolve().parents[1] / "examples" / "clip.mp4"


def window(t: float) -> tuple[float, float, float, float]:
    """The photo's box (left, top, right, bottom) at ``t`` in [0, 1]: 384x288 at the top left
    moving to 320x240 around the face, eased in and out."""
    ease = 0.5 - 0.5 * math.cos(math.pi * t)
    width = 384 - 64 * ease
    left, top = 40 + 110 * ease, 10 + 20 * ease
    return left, top, left + width, top + width * SIZE[1] / SIZE[0]


def frames() -> list[np.ndarray]:
    photo = Image.fromarray(data.astronaut())
    count = FPS * SECONDS
    return [np.asarray(photo.resize(SIZE, Image.Resampling.LANCZOS, box=window(i / (count - 1))))
            for i in range(count)]


def tone() -> np.ndarray:
    """Mono float samples: A3 and E4 with half-second fades, at a quiet level."""
    t = np.arange(SAMPLE_RATE * SECONDS) / SAMPLE_RATE
    fade = np.clip(np.minimum(t, SECONDS - t) / 0.5, 0, 1)
    return (0.2 * fade * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 329.63 * t))
            ).astype(np.float32)


def write(target: Path) -> None:
    with av.open(str(target), "w", options={"movflags": "+faststart"}) as output:
        output.metadata["comment"] = "vivid sample clip, CC0 1.0 (scripts/make_sample_clip.py)"
        video = output.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        video.options = {"crf": "20", "threads": "1"}
        audio = output.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        audio.bit_rate = 32000
        for pixels in frames():
            output.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(video.encode(None))
        samples = tone()
        for start in range(0, len(samples), 1024):
            chunk = samples[None, start:start + 1024]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            output.mux(audio.encode(frame))
        output.mux(audio.encode(None))


if __name__ == "__main__":
    write(TARGET)
    print(f"wrote {TARGET} ({SIZE[0]}x{SIZE[1]}, {FPS} fps, {SECONDS} s, "
          f"{TARGET.stat().st_size // 1024} KiB)")

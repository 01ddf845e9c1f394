"""Why does a recurrent video model flicker? Measured on sequences that are not a test set.

Sequences: the held-out validation clips of ``video-x4`` (aspen_ntia, baseball_toflow) and the
slow sub-pixel pans over the held-out BSD200 validation images of
``benchmarks/temporal_validation.py`` (24 frames each). Vid4 is never used here.
Degradation bd (Gaussian sigma 1.5, every 4th pixel). Methods:

- ``bicubic`` and ``srresnet-x4`` frame by frame (references);
- ``MODEL``: the recurrence as shipped (scene-cut rule on; the cuts it fires are counted);
- ``MODEL/reset``: the same network with its state dropped before every frame (every frame a
  first frame): what the recurrence adds;
- ``MODEL/zero-flow``: the previous output carried without motion compensation: what the
  motion estimate adds;
- ``MODEL/no-hidden`` (version 3 models): the previous output carried, the previous frame's
  LR features (the hidden state) dropped: what the hidden state adds;
- ``MODEL/preroll-K`` (``--preroll K``, repeatable): the recurrence run backwards over the
  next K frames before each scene's first frame (``VideoStream``'s pre-roll, as ``vivid
  upscale`` runs files): what history gives the first frames.

Per method and sequence: PSNR (Y, shave 4), tOF, and the PSNR of the last frames minus that
of the first (does detail build up along the recurrence?).
Usage: python benchmarks/video_diagnose.py [--model video-x4] [--save-as NAME] [--quick]
[--preroll K ...]
Writes benchmarks/results/NAME.json (default video_diagnose) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from temporal_validation import write_pans

from common import DATA, save
from vivid.inference.loader import load_upscaler
from vivid.inference.recurrent import VideoStream, VideoUpscaler
from vivid.metrics import psnr
from vivid.nets.frvsr import RecurrentGenerator
from vivid.training.video_data import load_validation_clips
from vivid.video.evaluate import collect_outputs, load_sequence
from vivid.video.metrics import tof
from vivid.video.temporal import FrameFn

VALIDATION = ["aspen_ntia", "baseball_toflow"]


class ZeroFlowStream(VideoStream):
    """The recurrence with its motion estimate (flow network or OpenCV) replaced by zero."""

    def estimate_flow(self, lr_frame: torch.Tensor, previous_lr: torch.Tensor) -> torch.Tensor:
        return torch.zeros(1, 2, *lr_frame.shape[-2:])


class NoHiddenStream(VideoStream):
    """The recurrence without version 3's hidden state: the previous LR features set to zero
    (``hidden_head`` has no bias, so they add nothing; the engines' graphs keep their
    inputs)."""

    def _upscale(self, lr_frame: torch.Tensor) -> torch.Tensor:
        sr_frame = super()._upscale(lr_frame)
        if self.previous_features is not None:
            self.previous_features = torch.zeros_like(self.previous_features)
        return sr_frame


def sequences(pans: Path) -> list[tuple[str, list[torch.Tensor], list[torch.Tensor]]]:
    listed = []
    for name, lr, hr, _ in load_validation_clips(DATA / "VideoClips", VALIDATION, 4, "bd"):
        listed.append((name, list(lr.unsqueeze(1)), list(hr.unsqueeze(1))))
    for folder in sorted(p for p in pans.iterdir() if p.is_dir()):
        lr_frames, hr_frames = load_sequence(folder, 4, "bd")
        listed.append((f"pan-{folder.name}", lr_frames, hr_frames))
    return listed


def score(outputs: list[torch.Tensor], truth: list[torch.Tensor]) -> dict[str, float]:
    values = [float(psnr(o, t, shave=4)) for o, t in zip(outputs, truth, strict=True)]
    third = max(1, len(values) // 3)
    return {"psnr": sum(values) / len(values), "tof": tof(outputs, truth),
            "psnr_gain": sum(values[-third:]) / third - sum(values[:third]) / third}


def methods(model: str, quick: bool = False, prerolls: tuple[int, ...] = ()
            ) -> dict[str, Callable[[], FrameFn]]:
    video = load_upscaler(model, precision="fp32", runtime="torch")
    assert isinstance(video, VideoUpscaler) and isinstance(video.network, RecurrentGenerator)
    image = {m: load_upscaler(m, precision="fp32", runtime="torch")
             for m in ("bicubic", "srresnet-x4")}

    def reset_each() -> FrameFn:
        stream = video.stream()
        return lambda frame: (stream.reset(), stream(frame))[1]

    listed = {model: video.stream, f"{model}/reset": reset_each}
    if video.network.hidden_head is not None:
        listed[f"{model}/no-hidden"] = lambda: NoHiddenStream(video)
    listed |= {f"{model}/preroll-{k}": lambda k=k: video.stream(preroll=k) for k in prerolls}
    if quick:
        return listed
    return {"bicubic": lambda: image["bicubic"].upscale_tensor,
            "srresnet-x4": lambda: image["srresnet-x4"].upscale_tensor, **listed,
            f"{model}/zero-flow": lambda: ZeroFlowStream(video)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="video-x4")
    parser.add_argument("--save-as", default="video_diagnose", help="results/NAME.json")
    parser.add_argument("--quick", action="store_true",
                        help="only the model as run and reset (what the recurrence adds)")
    parser.add_argument("--preroll", type=int, action="append", default=[],
                        help="also the model with this pre-roll (frames; repeatable)")
    args = parser.parse_args()
    torch.manual_seed(0)
    results: dict[str, dict[str, dict[str, float]]] = {}
    listed = methods(args.model, args.quick, tuple(args.preroll))
    with tempfile.TemporaryDirectory() as folder:
        for name, lr_frames, hr_frames in sequences(write_pans(Path(folder))):
            for label, make in listed.items():
                outputs = collect_outputs(make(), lr_frames, batch=1)  # reset_each: 1 a call
                results.setdefault(label, {})[name] = score(outputs, hr_frames)
                print(label, name, results[label][name], flush=True)
    rows = ["| method | sequences | PSNR | tOF | last - first third PSNR |",
            "|---|---|---|---|---|"]
    for label, table in results.items():
        for group, prefix in (("validation clips", ""), ("pans", "pan-")):
            picked = [v for k, v in table.items() if k.startswith(prefix) and
                      (prefix or not k.startswith("pan-"))]
            mean = {k: sum(v[k] for v in picked) / len(picked) for k in picked[0]}
            rows.append(f"| {label} | {group} | {mean['psnr']:.2f} | {mean['tof']:.3f} | "
                        f"{mean['psnr_gain']:+.2f} |")
    table = "\n".join(rows)
    print(table)
    command = (f"python benchmarks/video_diagnose.py --model {args.model} "
               f"--save-as {args.save_as}" + (" --quick" if args.quick else "")
               + "".join(f" --preroll {k}" for k in args.preroll))
    record = {"command": command, "markdown": table, "results": results}
    print(f"-> {save(args.save_as, record)}")


if __name__ == "__main__":
    main()

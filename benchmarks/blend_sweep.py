"""How much of the warped previous output should a recurrent video model blend in? A fixed
blend weight applied to a trained model, on sequences that are not a test set.

The model's blend network (``vivid.nets.frvsr``) is replaced by a constant weight w =
sigmoid(bias) for every pixel (its last conv zeroed, its bias set), and the recurrence is run
on the sequences of ``benchmarks/video_diagnose.py`` (held-out validation clips of
``video-x4`` and slow sub-pixel pans over held-out BSD200 images; never Vid4), BD-degraded.
Per weight: mean PSNR (Y, shave 4) and tOF per group. It shows what blending buys where the
motion is simple (pans) and what it costs where it is not (the clips), i.e. where a learned,
per-pixel weight has to start and what it has to learn.
Usage: python benchmarks/blend_sweep.py MODEL [--bias B ...]
Writes benchmarks/results/blend_sweep.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from temporal_validation import write_pans
from video_diagnose import run, score, sequences

from common import save
from vivid.inference.recurrent import VideoUpscaler
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.weights_file import load_model


def fixed_blend(model: str, bias: float) -> VideoUpscaler:
    network, metadata = load_model(model)
    if not isinstance(network, RecurrentGenerator) or network.blend is None:
        raise SystemExit(f"{model}: not a video model with a blend")
    with torch.no_grad():
        network.blend[-1].weight.zero_()
        network.blend[-1].bias.fill_(bias)
    return VideoUpscaler(network, model, torch.device("cpu"), torch.float32, metadata=metadata)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--bias", type=float, action="append")
    args = parser.parse_args()
    biases = args.bias or [-3.0, -1.0, 0.0, 1.0]
    results: dict[str, dict[str, dict[str, float]]] = {}
    rows = ["| blend weight | PSNR, clips | tOF, clips | PSNR, pans | tOF, pans |",
            "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        listed = sequences(write_pans(Path(folder)))
        for bias in biases:
            upscaler, groups = fixed_blend(args.model, bias), {}
            for name, lr_frames, hr_frames in listed:
                group = "pans" if name.startswith("pan-") else "clips"
                groups.setdefault(group, []).append(
                    score(run(upscaler.stream(), lr_frames), hr_frames))
            weight = torch.sigmoid(torch.tensor(bias)).item()
            mean = {g: {k: sum(s[k] for s in v) / len(v) for k in ("psnr", "tof")}
                    for g, v in groups.items()}
            results[f"{weight:.3f}"] = mean
            rows.append(f"| {weight:.3f} | {mean['clips']['psnr']:.2f} | "
                        f"{mean['clips']['tof']:.3f} | {mean['pans']['psnr']:.2f} | "
                        f"{mean['pans']['tof']:.3f} |")
            print(rows[-1], flush=True)
    table = "\n".join(rows)
    print(table)
    command = "python benchmarks/blend_sweep.py " + args.model + "".join(
        f" --bias {b}" for b in biases)
    print(f"-> {save('blend_sweep', {'command': command, 'markdown': table, 'results': results})}")


if __name__ == "__main__":
    main()

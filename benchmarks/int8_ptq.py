"""Post-training int8 (OpenVINO NNCF) of srresnet-x4, the measurement behind leaving it out
(issue 17, item 3: only if it loses <= 0.1 dB Y-PSNR on Set5 and is faster).

Quantizes vivid's OpenVINO model of srresnet-x4 with ``nncf.quantize`` on 48x48 LR crops of
T91 (MATLAB bicubic /4; never Set5), then scores OpenVINO f32, bf16 and int8 on Set5 (Y,
4 pixels shaved, 8-bit outputs) and times them on a 128x128 input (best of 3, alternating).
Usage: pip install nncf; python benchmarks/int8_ptq.py [--preset performance|mixed]
Prints one JSON line; see docs/int8.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import nncf
import numpy as np
import openvino as ov
import torch

from vivid.degrade import imresize
from vivid.evaluation.evaluate import load_dataset
from vivid.images.imagefile import read_image
from vivid.images.listing import list_images
from vivid.images.pixels import quantize_8bit
from vivid.inference.openvino_runtime import read_model
from vivid.inference.runtimes import best_times, cpu_model
from vivid.metrics import psnr

DATA = Path(os.environ.get("VIVID_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
CROP = 48


def calibration_crops() -> list[np.ndarray]:
    """One random 48x48 LR crop of each T91 image large enough for it."""
    random.seed(0)
    crops = []
    for path in list_images(DATA / "T91"):
        hr = read_image(path).rgb
        lr = imresize(hr[..., : hr.shape[-2] // 4 * 4, : hr.shape[-1] // 4 * 4], 1 / 4)
        if min(lr.shape[-2:]) < CROP:
            continue
        y, x = random.randint(0, lr.shape[-2] - CROP), random.randint(0, lr.shape[-1] - CROP)
        crops.append(np.ascontiguousarray(lr[..., y:y + CROP, x:x + CROP].clamp(0, 1).numpy()))
    return crops


def compiled(model: object, hint: str) -> Callable[[torch.Tensor], torch.Tensor]:
    request = ov.Core().compile_model(model, "CPU", {
        "INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": torch.get_num_threads()}).create_infer_request()
    return lambda x: torch.from_numpy(
        request.infer({0: np.ascontiguousarray(x.numpy())}, share_outputs=False)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", choices=("performance", "mixed"), default="performance")
    args = parser.parse_args()
    model = read_model("srresnet-x4")[0]
    preset = {"performance": nncf.QuantizationPreset.PERFORMANCE,
              "mixed": nncf.QuantizationPreset.MIXED}[args.preset]
    crops = calibration_crops()
    quantized = nncf.quantize(model, nncf.Dataset(crops), preset=preset, subset_size=len(crops))
    nets = {"f32": compiled(model, "f32"), "bf16": compiled(model, "bf16"),
            "int8": compiled(quantized, "bf16")}
    samples = load_dataset(DATA / "Set5", 4, "bicubic")
    scores = {name: float(np.mean([
        psnr(quantize_8bit(net(s.lr_image).clamp(0, 1)), s.hr_image, shave=4).item()
        for s in samples])) for name, net in nets.items()}
    lr_image = torch.rand(1, 3, 128, 128)
    seconds = best_times({name: (lambda n=net: n(lr_image)) for name, net in nets.items()})
    print(json.dumps({"cpu": cpu_model(), "preset": args.preset, "crops": len(crops),
                      "set5_y_psnr": scores, "seconds_128x128": seconds}))


if __name__ == "__main__":
    main()

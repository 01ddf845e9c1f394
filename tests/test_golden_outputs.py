"""Golden outputs of the bundled models: a fixed 32x32 LR crop of examples/astronaut.png,
upscaled in fp32 without tiles, must give the stored values (16x16 block means and every
8th pixel of the 128x128 output; tests/golden/*.json). A change to the shipped weights or to
anything on the way from file to pixels (loading, BatchNorm folding, the sub-pixel tail,
padding, clamping) fails here, while float rounding across CPUs stays far below 2e-3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vivid.images.imagefile import read_image
from vivid.inference.upscaler import Upscaler

REPO = Path(__file__).resolve().parents[1]
GOLDEN = sorted((REPO / "tests" / "golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_bundled_model_reproduces_its_golden_output(path: Path) -> None:
    golden = json.loads(path.read_text())
    rows, columns = slice(*golden["lr_rows"]), slice(*golden["lr_columns"])
    lr_image = read_image(REPO / golden["input"]).rgb[..., rows, columns]
    upscaler = Upscaler.from_pretrained(golden["model"], device="cpu", precision="fp32",
                                        tile=None)
    sr_image = upscaler(lr_image)
    pooled = F.avg_pool2d(sr_image, 16)[0]
    pixels = sr_image[0, :, 4::8, 4::8]
    torch.testing.assert_close(pooled, torch.tensor(golden["pooled_16"]), atol=2e-3, rtol=0)
    torch.testing.assert_close(pixels, torch.tensor(golden["pixels_every_8_from_4"]),
                               atol=2e-3, rtol=0)


def test_both_bundled_image_models_have_golden_outputs() -> None:
    assert {p.stem for p in GOLDEN} >= {"srresnet-x4", "srgan-x4"}

"""Models are scored on the grid of the evaluated LR (``vivid.evaluation.grid``), by ``vivid
eval`` (images) as by ``vivid eval-video``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vivid.evaluation.evaluate import evaluate
from vivid.evaluation.grid import regrid, regrid_shift
from vivid.images.pixels import quantize_8bit
from vivid.nets.light import LightConfig, LightGenerator
from vivid.nets.weights_file import save_generator


def test_models_are_scored_on_the_grid_of_the_evaluated_lr() -> None:
    """A bd-trained model scored on bicubic LR is moved by -1.5 HR px, a bicubic-trained one on
    bd LR by +1.5, bicubic (no training grid) not at all; a whole-pixel shift is exact."""
    def model(degradation: str | None) -> dict:
        return {} if degradation is None else {"config": {"data": {"degradation": degradation}}}

    assert regrid_shift(model("bd"), 4, "bicubic") == -1.5
    assert regrid_shift(model("bicubic"), 4, "bd") == 1.5
    assert regrid_shift(model("bd"), 4, "bd") == 0 and regrid_shift(model(None), 4, "bd") == 0
    assert regrid_shift({"degradation": "bd"}, 4, "bicubic") == -1.5  # a run's export
    # a video model exported before exports said their degradation: bd, as every one is
    assert regrid_shift({"architecture": "frvsr"}, 4, "bicubic") == -1.5
    frame = torch.rand(1, 3, 16, 20)
    moved = regrid([frame], 2.0)[0]  # sampled at x + 2, y + 2
    assert torch.allclose(moved[..., :-2, :-2], quantize_8bit(frame[..., 2:, 2:]), atol=1e-6)


def test_image_eval_moves_a_model_trained_on_the_other_grid(tmp_path: Path) -> None:
    """A fresh light network is exactly bicubic upsampling: said to be trained on bd, it
    scores as bicubic on bd LR (not moved) and is moved by -1.5 HR px on bicubic LR."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "hr"
    folder.mkdir()
    for i in range(2):
        pixels = rng.random((12, 12, 3)) * 255
        image = Image.fromarray(pixels.astype(np.uint8)).resize((48, 48), Image.BICUBIC)
        image.save(folder / f"{i}.png")
    weights = tmp_path / "bd.safetensors"
    save_generator(weights, LightGenerator(LightConfig(scale=4)), stage="video",
                   degradation="bd")
    models = ["bicubic", str(weights)]
    on_bd = evaluate(models, [folder], degradation="bd", progress=False)
    on_bicubic = evaluate(models, [folder], degradation="bicubic", progress=False)
    assert on_bd["regrid"] == {} and on_bicubic["regrid"] == {str(weights): -1.5}
    bd_table, bicubic_table = on_bd["results"]["hr"], on_bicubic["results"]["hr"]
    assert bd_table[str(weights)]["psnr"] == pytest.approx(bd_table["bicubic"]["psnr"], abs=0.01)
    assert bicubic_table[str(weights)]["psnr"] != pytest.approx(bicubic_table["bicubic"]["psnr"],
                                                                abs=0.01)

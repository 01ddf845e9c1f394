from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vivid.cli.main import main
from vivid.evaluation.evaluate import evaluate


def test_bicubic_reproduces_the_literature_on_set5_and_bsd100(data_dir: Path) -> None:
    report = evaluate(["bicubic"], [data_dir / "Set5", data_dir / "BSD100"], progress=False)
    set5, bsd100 = (report["results"][d]["bicubic"] for d in ("Set5", "BSD100"))
    assert abs(set5["psnr"] - 28.42) <= 0.01 and abs(set5["ssim"] - 0.8102) <= 0.0005
    assert abs(bsd100["psnr"] - 25.96) <= 0.01 and abs(bsd100["ssim"] - 0.6674) <= 0.0005
    assert len(set5["images"]) == 5 and len(bsd100["images"]) == 100


def test_set14_odd_sizes_and_greyscale_bridge(data_dir: Path) -> None:
    report = evaluate(["bicubic"], [data_dir / "Set14"], progress=False)
    set14 = report["results"]["Set14"]["bicubic"]
    assert len(set14["images"]) == 14 and "bridge.png" in set14["images"]
    assert abs(set14["psnr"] - 26.09) <= 0.01 and abs(set14["ssim"] - 0.7042) <= 0.0005


def _folder(path: Path, sizes: dict[str, int]) -> Path:
    path.mkdir()
    rng = np.random.default_rng(0)
    for name, size in sizes.items():
        Image.fromarray(rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)).save(
            path / name)
    return path


def test_eval_cli_writes_table_json_and_gallery(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    data = _folder(tmp_path / "Mini", {"a.png": 100, "b.png": 120})
    (data / "readme.txt").write_text("not an image")
    (data / "broken.png").write_bytes(b"garbage")
    Image.new("RGB", (3, 3)).save(data / "tiny.png")
    code = main(["eval", "--model", "bicubic", "--dataset", str(data), "--json",
                 str(tmp_path / "r.json"), "--gallery", str(tmp_path / "g"), "--quiet",
                 ])
    assert code == 0
    out, err = capsys.readouterr()
    assert "Mini" in out and "bicubic" in out
    assert "broken.png" in err and "tiny.png" in err and "smaller than the scale" in err
    report = json.loads((tmp_path / "r.json").read_text())
    entry = report["results"]["Mini"]["bicubic"]
    assert report["scale"] == 4 and set(entry["images"]) == {"a.png", "b.png"}
    assert {"psnr", "ssim"} <= set(entry["images"]["a.png"])
    page = (tmp_path / "g" / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 2 * 3  # LR, bicubic, HR for 2 images
    assert f"{entry['images']['a.png']['psnr']:.2f}" in page


def test_empty_dataset_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "Empty").mkdir()
    assert main(["eval", "--model", "bicubic", "--dataset", str(tmp_path / "Empty"),
                 "--quiet"]) == 2
    assert "Empty: no images" in capsys.readouterr().err


def test_rgb_option(tmp_path: Path) -> None:
    data = _folder(tmp_path / "Mini", {"a.png": 100})
    y = evaluate(["bicubic"], [data], progress=False)["results"]["Mini"]["bicubic"]
    rgb_report = evaluate(["bicubic"], [data], progress=False, y_channel=False)
    rgb = rgb_report["results"]["Mini"]["bicubic"]
    assert rgb_report["channel"] == "rgb" and abs(rgb["psnr"] - y["psnr"]) > 0.01


def test_eval_is_fp32_by_default_even_where_upscale_would_use_bf16(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vivid import device
    from vivid.nets.srresnet import Generator, GeneratorConfig
    from vivid.nets.weights_file import save_generator

    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    weights = tmp_path / "tiny.safetensors"
    save_generator(weights, Generator(GeneratorConfig(blocks=1, channels=8)))
    data = _folder(tmp_path / "Mini", {"a.png": 64})

    def psnr(**precision: str) -> float:
        report = evaluate([str(weights)], [data], progress=False, **precision)
        return report["results"]["Mini"][str(weights)]["psnr"]

    assert psnr() == psnr(precision="fp32") != psnr(precision="auto")

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vivid.cli.main import main
from vivid.degrade import degrade, gaussian_blur, imresize
from vivid.images import imagefile
from vivid.training.data import PairedCrops


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int64)


@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
def test_degrade_cli_matches_matlab_lr_files(data_dir: Path, tmp_path: Path,
                                             dataset: str) -> None:
    assert main(["degrade", str(data_dir / dataset), "-o", str(tmp_path), "--quiet"]) == 0
    references = sorted((data_dir / f"{dataset}_LR_bicubic_x4_matlab").glob("*.png"))
    assert len(references) in (5, 14)
    for reference in references:
        ours, matlab = _load(tmp_path / reference.name), _load(reference)
        assert ours.shape == matlab.shape, reference.name
        inner = np.abs(ours - matlab)[2:-2, 2:-2]
        assert inner.max() <= 1 and inner.mean() <= 0.01, reference.name


def test_greyscale_stays_greyscale_and_hr_is_cropped_to_a_multiple(tmp_path: Path) -> None:
    Image.fromarray(np.full((37, 50), 128, dtype=np.uint8), "L").save(tmp_path / "g.png")
    assert main(["degrade", str(tmp_path / "g.png"), "-o", str(tmp_path / "lr"),
                 "--quiet"]) == 0
    with Image.open(tmp_path / "lr" / "g.png") as image:
        assert image.mode == "L" and image.size == (12, 9)  # 48x36 crop, /4
        assert np.asarray(image).min() == 128 == np.asarray(image).max()


@settings(max_examples=25, deadline=None)
@given(height=st.integers(1, 40), width=st.integers(1, 40),
       scale=st.sampled_from([0.25, 0.5, 1 / 3, 2.0, 3.0, 4.0]))
def test_imresize_size_and_constant_images(height: int, width: int, scale: float) -> None:
    image = torch.full((1, 3, height, width), 0.3, dtype=torch.float64)
    resized = imresize(image, scale)
    assert resized.shape[-2:] == (int(np.ceil(height * scale)), int(np.ceil(width * scale)))
    assert torch.allclose(resized, torch.full_like(resized, 0.3))  # weights sum to one


def test_bd_blurs_then_keeps_every_fourth_pixel() -> None:
    hr_image = torch.rand(1, 3, 32, 48)
    lr_image = degrade(hr_image, 4, "bd")
    expected = (gaussian_blur(hr_image, 1.5)[..., ::4, ::4] * 255).round() / 255
    assert lr_image.shape == (1, 3, 8, 12) and torch.equal(lr_image, expected)
    assert gaussian_blur(torch.ones(1, 1, 20, 20), 1.5).sub(1).abs().max() < 1e-6


@settings(max_examples=25, deadline=None)
@given(st.integers(13, 40), st.integers(13, 40), st.integers(1, 5))
def test_a_strided_blur_is_the_blur_at_every_stride_th_pixel(height: int, width: int,
                                                              stride: int) -> None:
    image = torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(height))
    strided = gaussian_blur(image, 1.5, stride=stride)
    torch.testing.assert_close(strided, gaussian_blur(image, 1.5)[..., ::stride, ::stride],
                               atol=1e-6, rtol=0)


def test_paired_crops_are_aligned_deterministic_and_skip_small(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(1)
    for name, size in (("a.png", 64), ("b.png", 80), ("tiny.png", 20)):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            tmp_path / name)
    with caplog.at_level(logging.WARNING, logger="vivid"):
        pairs = PairedCrops.from_folders([tmp_path], 4, 32)
    assert "skipped 1 images smaller than the 32px crop" in caplog.text
    assert len(pairs) == 2
    lr_batch, hr_batch = pairs.batch(seed=3, iteration=5, batch_size=6)
    again = pairs.batch(seed=3, iteration=5, batch_size=6)
    assert torch.equal(lr_batch, again[0]) and torch.equal(hr_batch, again[1])
    assert lr_batch.shape == (6, 3, 8, 8) and hr_batch.shape == (6, 3, 32, 32)
    # Each LR crop is the MATLAB downscale of the HR crop away from the crop border.
    remade = imresize(hr_batch, 0.25)
    assert (remade - lr_batch)[..., 2:-2, 2:-2].abs().max() < 2.5 / 255
    shares = [pairs.batch(3, 5, 3, rank, 2) for rank in (0, 1)]
    assert torch.equal(torch.cat([s[1] for s in shares]), hr_batch)


def test_io_suffixes_cover_training_formats() -> None:
    assert {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif"} <= set(imagefile.IMAGE_SUFFIXES)


def _hr_folder(folder: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name, (width, height) in sizes.items():
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
            folder / name)
    return folder


def test_dataloader_workers_give_the_same_samples(tmp_path: Path) -> None:
    from torch.utils.data import DataLoader

    from vivid.training.data import CropDataset

    pairs = PairedCrops.from_folders([_hr_folder(tmp_path / "hr", {"a.png": (64, 48)})], 4, 32)
    dataset = CropDataset(pairs, seed=5, length=8)
    single = list(DataLoader(dataset, batch_size=4, num_workers=0))
    parallel = list(DataLoader(dataset, batch_size=4, num_workers=2))
    for (lr_a, hr_a), (lr_b, hr_b) in zip(single, parallel, strict=True):
        assert torch.equal(lr_a, lr_b) and torch.equal(hr_a, hr_b)
    assert single[0][0].shape == (4, 3, 8, 8)


def test_premade_lr_pairs_are_used_and_checked(tmp_path: Path) -> None:
    hr = _hr_folder(tmp_path / "hr", {"a.png": (66, 48)})
    (tmp_path / "lr").mkdir()
    assert main(["degrade", str(hr), "-o", str(tmp_path / "lr"), "--method", "bd",
                 "--quiet"]) == 0
    pairs = PairedCrops.from_folders([hr], 4, 32, lr_folders=[tmp_path / "lr"])
    bd = degrade(imagefile.read_image(hr / "a.png").rgb[..., :64], 4, "bd")
    assert torch.equal(pairs.lr_images[0].float() / 255, bd[0])
    Image.new("RGB", (10, 10)).save(tmp_path / "lr" / "a.png")
    with pytest.raises(Exception, match=r"a.png: LR is 10x10, the HR image needs 16x12 at x4"):
        PairedCrops.from_folders([hr], 4, 32, lr_folders=[tmp_path / "lr"])


def test_non_image_files_are_skipped_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _hr_folder(tmp_path / "hr", {"a.png": (40, 40)})
    (folder / "notes.txt").write_text("x")
    from vivid.images.listing import list_images

    with caplog.at_level(logging.WARNING, logger="vivid"):
        assert [p.name for p in list_images(folder)] == ["a.png"]
    assert "skipped 1 files that are not images" in caplog.text

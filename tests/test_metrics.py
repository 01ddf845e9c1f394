from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vivid.evaluation.niqe import niqe
from vivid.images.imagefile import read_image
from vivid.metrics import psnr, ssim, to_y


def _y(image: torch.Tensor, shave: int) -> np.ndarray:
    return to_y(image)[0, 0, shave:-shave, shave:-shave].numpy()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), noise=st.floats(0.01, 0.3))
def test_ssim_and_psnr_equal_scikit_image(seed: int, noise: float) -> None:
    generator = torch.Generator().manual_seed(seed)
    hr_image = torch.rand(1, 3, 40, 36, generator=generator)
    sr_image = (hr_image + noise * torch.randn(hr_image.shape, generator=generator)).clamp(0, 1)
    reference = structural_similarity(_y(sr_image, 4), _y(hr_image, 4), gaussian_weights=True,
                                      sigma=1.5, use_sample_covariance=False, data_range=255)
    assert abs(ssim(sr_image, hr_image).item() - reference) < 1e-6
    reference_psnr = peak_signal_noise_ratio(_y(hr_image, 4), _y(sr_image, 4), data_range=255)
    assert abs(psnr(sr_image, hr_image).item() - reference_psnr) < 1e-9


def test_y_channel_is_matlab_rgb2ycbcr() -> None:
    pixels = torch.tensor([[0, 0, 0], [255, 255, 255], [255, 0, 0], [12, 200, 90]]) / 255
    y = to_y(pixels.T.reshape(1, 3, 1, 4)).flatten().tolist()
    assert y == [16.0, 235.0, 81.0, 129.0]  # 16 + (65.481 R + 128.553 G + 24.966 B) / 255


def test_rgb_variant_averages_channels() -> None:
    hr_image = torch.rand(1, 3, 30, 30)
    sr_image = (hr_image + 0.05).clamp(0, 1)
    per_channel = [ssim(sr_image[:, [c] * 3], hr_image[:, [c] * 3], y_channel=False).item()
                   for c in range(3)]
    assert abs(ssim(sr_image, hr_image, y_channel=False).item() - np.mean(per_channel)) < 1e-12


def test_niqe_matches_matlab_on_baboon(data_dir: Path) -> None:
    baboon = read_image(data_dir / "Set14" / "baboon.png").rgb[..., :492]
    score = niqe(to_y(baboon)[0, 0].numpy(), data_dir / "NIQE" / "niqe_pris_params.npz")
    assert abs(score - 5.7296) <= 0.001

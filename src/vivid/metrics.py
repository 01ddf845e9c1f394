"""Full-reference image metrics as the SR literature computes them (MATLAB conventions).

PSNR and SSIM are computed on the Y channel of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` gives
it for uint8 images (Y = 16 + 65.481 R + 128.553 G + 24.966 B for R, G, B in [0, 1], rounded
to an integer), after removing ``shave`` pixels at every border (the scale, by default), in
float64. SSIM uses the 11x11 Gaussian window (sigma 1.5) of Wang et al. 2004 on the valid
region, K1 = 0.01, K2 = 0.03, L = 255. Inputs are N x 3 x H x W in [0, 1]; they are rounded
to 8-bit levels first, as saved images would be.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F

from vivid.images.pixels import quantize_8bit

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def to_y(image: torch.Tensor, rounded: bool = True) -> torch.Tensor:
    """N x 1 x H x W float64 Y channel (16..235) of the 8-bit levels, rounded like MATLAB on
    uint8 input (``rounded``) or not (TecoGAN's video metrics)."""
    levels = quantize_8bit(image.double())
    weights = torch.tensor(_Y_WEIGHTS, dtype=torch.float64).reshape(1, 3, 1, 1)
    y = 16 + (levels * weights).sum(dim=1, keepdim=True)
    return y.round() if rounded else y


def _prepare(sr_image: torch.Tensor, hr_image: torch.Tensor, shave: int, y_channel: bool,
             rounded_y: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    if sr_image.shape != hr_image.shape:
        raise ValueError(f"SR {tuple(sr_image.shape)} and HR {tuple(hr_image.shape)} differ")
    if y_channel:
        sr, hr = to_y(sr_image, rounded_y), to_y(hr_image, rounded_y)
    else:
        sr = quantize_8bit(sr_image.double()) * 255
        hr = quantize_8bit(hr_image.double()) * 255
    if shave:
        sr, hr = sr[..., shave:-shave, shave:-shave], hr[..., shave:-shave, shave:-shave]
    return sr, hr


def psnr(sr_image: torch.Tensor, hr_image: torch.Tensor, shave: int = 4,
         y_channel: bool = True, rounded_y: bool = True) -> torch.Tensor:
    """PSNR in dB per image (N values); RGB over all channels when ``y_channel`` is False."""
    sr, hr = _prepare(sr_image, hr_image, shave, y_channel, rounded_y)
    mse = ((sr - hr) ** 2).flatten(1).mean(dim=1)
    return 10 * torch.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    return (kernel[:, None] * kernel[None, :]).reshape(1, 1, size, size)


def _ssim_single_channel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    window = _gaussian_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(dim=1)


def ssim(sr_image: torch.Tensor, hr_image: torch.Tensor, shave: int = 4,
         y_channel: bool = True, rounded_y: bool = True) -> torch.Tensor:
    """SSIM per image (N values); RGB: the mean over the three channels."""
    sr, hr = _prepare(sr_image, hr_image, shave, y_channel, rounded_y)
    channels = [_ssim_single_channel(sr[:, c:c + 1], hr[:, c:c + 1]) for c in range(sr.shape[1])]
    return torch.stack(channels).mean(dim=0)


def mean_psnr_ssim(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], shave: int = 4
                   ) -> dict[str, float]:
    """Mean Y-channel PSNR and SSIM over (SR, HR) pairs of single images."""
    psnrs, ssims = [], []
    for sr_image, hr_image in pairs:
        psnrs.append(psnr(sr_image, hr_image, shave=shave).item())
        ssims.append(ssim(sr_image, hr_image, shave=shave).item())
    return {"psnr": sum(psnrs) / len(psnrs), "ssim": sum(ssims) / len(ssims)}

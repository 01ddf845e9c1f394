"""Degradations: MATLAB-compatible bicubic ``imresize`` on batched torch tensors.

``imresize`` reproduces MATLAB's ``imresize(image, scale, 'bicubic')``: the cubic kernel with
a = -0.5, antialiasing when downscaling (the kernel is stretched by 1/scale), symmetric
boundary handling, and the output size ``ceil(scale * size)``. Rows are resized before
columns, as MATLAB does for equal scales. Images are floats in [0, 1]. MATLAB resizes uint8
images in uint8, rounding after each axis; ``quantize=True`` reproduces that (it matters: the
mean difference to MATLAB-made LR files drops from ~0.1 to ~0.001 grey levels).
"""

from __future__ import annotations

import math

import torch

from vivid.errors import VividError
from vivid.images.pixels import quantize_8bit


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``bicubic``)."""
    absx = x.abs()
    absx2, absx3 = absx**2, absx**3
    near = (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * ((absx > 1) & (absx <= 2))
    return near + far


def _contributions(in_length: int, scale: float, antialias: bool) -> tuple[torch.Tensor, ...]:
    """Source indices (out x taps) and weights for resizing one axis, as MATLAB computes them."""
    out_length = math.ceil(in_length * scale)
    stretch = scale if (antialias and scale < 1) else 1.0
    kernel_width = 4.0 / stretch
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left.unsqueeze(1) + torch.arange(taps, dtype=torch.float64).unsqueeze(0)
    weights = stretch * cubic(stretch * (u.unsqueeze(1) - indices))
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Symmetric padding: 1-based index i outside [1, n] mirrors back (..., 2, 1, 1, 2, ...).
    mirror = torch.cat([torch.arange(in_length), torch.arange(in_length - 1, -1, -1)])
    indices = mirror[(indices.long() - 1) % (2 * in_length)]
    used = weights.abs().sum(dim=0) > 0
    return indices[:, used], weights[:, used]


def _resize_axis(image: torch.Tensor, axis: int, scale: float, antialias: bool) -> torch.Tensor:
    indices, weights = _contributions(image.shape[axis], scale, antialias)
    weights = weights.to(image.dtype if image.is_floating_point() else torch.float64)
    moved = image.movedim(axis, -1)  # (..., length)
    gathered = moved[..., indices.to(image.device)]  # (..., out, taps)
    resized = (gathered * weights.to(image.device)).sum(dim=-1)
    return resized.movedim(-1, axis)


def imresize(
    image: torch.Tensor, scale: float, antialias: bool = True, quantize: bool = False
) -> torch.Tensor:
    """Resize an N x C x H x W float tensor by ``scale`` like MATLAB's bicubic ``imresize``.

    With ``quantize`` the result after each axis is rounded to 8-bit levels, as MATLAB does
    for uint8 input; the output is then an exact 8-bit image too.
    """
    if image.ndim != 4:
        raise ValueError(f"imresize expects N x C x H x W, got shape {tuple(image.shape)}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    resized = _resize_axis(image, 2, scale, antialias)
    if quantize:
        resized = quantize_8bit(resized)
    resized = _resize_axis(resized, 3, scale, antialias)
    return quantize_8bit(resized) if quantize else resized


DEGRADATIONS = ("bicubic", "blur-bicubic", "bd")
# training data only: each sequence drawn from bd and bicubic (vivid.training.video_data)
MIXED = "mixed"
BD_SIGMA = 1.5  # TecoGAN's video "BD" degradation


def gaussian_kernel(sigma: float, size: int | None = None) -> torch.Tensor:
    """Normalised 1-D Gaussian; ``size`` defaults to 2 * ceil(4 sigma) + 1 (13 for 1.5)."""
    size = size or 2 * math.ceil(4 * sigma) + 1
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def gaussian_blur(image: torch.Tensor, sigma: float, size: int | None = None,
                  stride: int = 1) -> torch.Tensor:
    """Separable Gaussian blur of N x C x H x W with reflected borders; with ``stride`` s
    only every s-th pixel of it, from the first (``blur[..., ::s, ::s]``, s^2 less work)."""
    kernel = gaussian_kernel(sigma, size).to(image)
    pad = kernel.numel() // 2
    channels = image.shape[1]
    flat = image.reshape(-1, 1, *image.shape[-2:])
    flat = torch.nn.functional.pad(flat, (pad, pad, pad, pad), mode="reflect")
    flat = torch.nn.functional.conv2d(flat, kernel.reshape(1, 1, -1, 1), stride=(stride, 1))
    flat = torch.nn.functional.conv2d(flat, kernel.reshape(1, 1, 1, -1), stride=(1, stride))
    return flat.reshape(image.shape[0], channels, *flat.shape[-2:])


def crop_to_multiple(image: torch.Tensor, scale: int) -> torch.Tensor:
    """Top-left crop so that height and width are multiples of ``scale``."""
    return image[..., : image.shape[-2] // scale * scale, : image.shape[-1] // scale * scale]


def degrade(hr_image: torch.Tensor, scale: int, method: str = "bicubic",
            blur_sigma: float | None = None) -> torch.Tensor:
    """LR image of an HR image whose sides are multiples of ``scale``; 8-bit levels.

    ``bicubic``: MATLAB ``imresize`` (the SR benchmarks' LR). ``blur-bicubic``: Gaussian blur
    (``blur_sigma``, default 1.5) then bicubic. ``bd``: Gaussian blur (sigma 1.5 unless given)
    then every ``scale``-th pixel, starting at the first (TecoGAN's video degradation).
    """
    if method not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {method!r} ({', '.join(DEGRADATIONS)})")
    if hr_image.shape[-2] % scale or hr_image.shape[-1] % scale:
        raise ValueError(f"HR size {tuple(hr_image.shape[-2:])} is not a multiple of {scale}")
    if method == "bicubic" and blur_sigma:
        method = "blur-bicubic"
    if method == "bicubic":
        return imresize(hr_image, 1 / scale, quantize=True)
    blurred = gaussian_blur(hr_image, blur_sigma or BD_SIGMA)
    if method == "blur-bicubic":
        return imresize(quantize_8bit(blurred), 1 / scale, quantize=True)
    return quantize_8bit(blurred[..., ::scale, ::scale])


def grid_offset(degradation: str, scale: int) -> float:
    """Where LR pixel i sits on the HR grid, minus ``scale * i``, in HR pixels: 0 for ``bd``
    (it keeps every ``scale``-th pixel from the first), (scale - 1) / 2 for the bicubic kinds
    (each LR pixel averages an HR neighbourhood centred between pixels)."""
    if degradation not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {degradation!r} ({', '.join(DEGRADATIONS)})")
    return 0.0 if degradation == "bd" else (scale - 1) / 2


def make_pair(hr_image: torch.Tensor, scale: int, method: str = "bicubic",
              blur_sigma: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(LR, HR) float images: HR cropped top-left to a multiple of ``scale``, then degraded."""
    if min(hr_image.shape[-2:]) < scale:
        raise VividError(f"image of {hr_image.shape[-1]}x{hr_image.shape[-2]} is smaller "
                         f"than the scale {scale}")
    hr_image = crop_to_multiple(hr_image, scale)
    return degrade(hr_image, scale, method, blur_sigma), hr_image

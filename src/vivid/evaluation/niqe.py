"""NIQE (Mittal, Soundararajan and Bovik, IEEE SPL 2013): no-reference naturalness, lower is
better. Follows the authors' MATLAB release (``computequality.m``):

- Y channel (0-255, integer levels) cropped to whole 96x96 blocks;
- at two scales (the second is the image halved by MATLAB bicubic ``imresize``): local mean
  and deviation with the 7x7 Gaussian window (replicate borders), normalised coefficients
  (I - mu) / (sigma + 1), and per block (96, then 48 pixels) 18 features: an asymmetric
  generalised Gaussian fit of the coefficients (shape, mean scale) and of their products with
  four neighbours (shape, mean, left and right scale);
- the distance between the multivariate Gaussian of the 36-dimensional block features
  (mean, sample covariance over blocks without NaN) and the pristine model.

The pristine model (``niqe_pris_params.npz``: ``mu_pris_param``, ``cov_pris_param``,
``gaussian_window``) is the authors' ``modelparameters.mat``; pass its path.
"""

from __future__ import annotations

import math
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from vivid.degrade import imresize
from vivid.errors import VividError

BLOCK = 96
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@cache
def _shape_table() -> tuple[np.ndarray, np.ndarray]:
    """Candidate shapes 0.2:0.001:10 and their Gamma-function ratio, as in MATLAB."""
    shapes = np.arange(0.2, 10.0005, 0.001)
    gamma = np.vectorize(math.gamma)
    return shapes, gamma(2 / shapes) ** 2 / (gamma(1 / shapes) * gamma(3 / shapes))


def _aggd(values: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit: (shape alpha, left scale, right scale).

    A flat block (no negative or no positive values) gives NaN scales, as in MATLAB, and its
    features are left out of the mean and covariance; numpy's warnings about it are muted.
    """
    shapes, ratio = _shape_table()
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        left = np.sqrt(np.mean(values[values < 0] ** 2))
        right = np.sqrt(np.mean(values[values > 0] ** 2))
        gamma_hat = left / right
        r_hat = np.mean(np.abs(values)) ** 2 / np.mean(values**2)
    r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    alpha = float(shapes[np.argmin((ratio - r_norm) ** 2)])
    spread = math.sqrt(math.gamma(1 / alpha) / math.gamma(3 / alpha))
    return alpha, float(left * spread), float(right * spread)


def _block_features(block: np.ndarray) -> list[float]:
    alpha, left, right = _aggd(block.ravel())
    features = [alpha, (left + right) / 2]
    for shift in _SHIFTS:
        alpha, left, right = _aggd((block * np.roll(block, shift, axis=(0, 1))).ravel())
        mean = (right - left) * math.gamma(2 / alpha) / math.gamma(1 / alpha)
        features += [alpha, mean, left, right]
    return features


def _filter(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """MATLAB ``imfilter(image, window, 'replicate')`` (correlation, same size)."""
    pad = window.shape[0] // 2
    padded = np.pad(image, pad, mode="edge")
    return np.einsum("ijkl,kl->ij", sliding_window_view(padded, window.shape), window)


def _scale_features(image: np.ndarray, window: np.ndarray, block: int) -> np.ndarray:
    mu = _filter(image, window)
    sigma = np.sqrt(np.abs(_filter(image * image, window) - mu * mu))
    normalised = (image - mu) / (sigma + 1)
    rows, columns = image.shape[0] // block, image.shape[1] // block
    return np.array([
        _block_features(normalised[r * block:(r + 1) * block, c * block:(c + 1) * block])
        for r in range(rows) for c in range(columns)
    ])


def applicable(height: int, width: int) -> bool:
    """NIQE needs at least two whole 96x96 blocks (a covariance over one block is undefined)."""
    return (height // BLOCK) * (width // BLOCK) >= 2


def niqe(y_channel: np.ndarray, model_path: str | Path) -> float:
    """NIQE of a 2-D Y-channel image with values 0-255 (see the module docstring)."""
    model = _load_model(str(model_path))
    if not applicable(*y_channel.shape):
        raise VividError(f"NIQE needs at least two {BLOCK}x{BLOCK} blocks, got an image of "
                         f"{y_channel.shape[1]}x{y_channel.shape[0]}")
    height = y_channel.shape[0] // BLOCK * BLOCK
    width = y_channel.shape[1] // BLOCK * BLOCK
    image = y_channel[:height, :width].astype(np.float64)
    first = _scale_features(image, model["gaussian_window"], BLOCK)
    half = imresize(torch.from_numpy(image / 255)[None, None], 0.5)[0, 0].numpy() * 255
    second = _scale_features(half, model["gaussian_window"], BLOCK // 2)
    features = np.concatenate([first, second], axis=1)
    complete = features[~np.isnan(features).any(axis=1)]
    mu = np.nanmean(features, axis=0)
    covariance = np.cov(complete, rowvar=False)
    difference = model["mu_pris_param"].ravel() - mu
    inverse = np.linalg.pinv((model["cov_pris_param"] + covariance) / 2)
    return float(np.sqrt(difference @ inverse @ difference))


@cache
def _load_model(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as data:
            return {key: data[key] for key in ("mu_pris_param", "cov_pris_param",
                                                "gaussian_window")}
    except (OSError, KeyError, ValueError) as error:
        raise VividError(f"{path}: not a NIQE pristine model ({error})") from error

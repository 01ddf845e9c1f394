"""Dense optical flow between frames (OpenCV), the one place its methods and settings live.

Two classical estimates, no weights to download:

- ``farneback``: TecoGAN's settings (pyramid scale 0.5, 3 levels, window 15, 3 iterations,
  poly_n 5, poly_sigma 1.2). The temporal metric tOF (``vivid.video.metrics``) must use this
  one (it is the protocol), and so does the image models' ``--temporal flow`` filter.
- ``dis``: OpenCV's Dense Inverse Search, preset MEDIUM (patch 8, stride 3, variational
  refinement). More accurate than Farneback on real motion at similar cost; the recurrent video
  generator's motion (``vivid.nets.frvsr``, ``motion = "dis"``).

Both run on the OpenCV greyscale of 8-bit frames and return flow in OpenCV's convention:
``first(p) ~ second(p + flow(p))``.
"""

from __future__ import annotations

import numpy as np
import torch

from vivid.errors import VividError
from vivid.images.pixels import to_uint8

# TecoGAN's Farneback settings: pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)
METHODS = ("farneback", "dis")
DIS_MIN_SIDE = 12  # OpenCV's DIS needs this many pixels a side: smaller frames are padded


def cv2_module():
    """OpenCV, or a one-line error saying how to install it."""
    try:
        import cv2
    except ImportError as error:
        raise VividError('optical flow needs OpenCV: run pip install -e ".[video]" in the '
                         "vivid folder") from error
    return cv2


def grey(frame: torch.Tensor) -> np.ndarray:
    """uint8 greyscale (OpenCV's RGB2GRAY weights) of a 1 x 3 x H x W or 3 x H x W frame."""
    cv2 = cv2_module()
    rgb = to_uint8(frame.detach().float().cpu().reshape(3, *frame.shape[-2:]))
    return cv2.cvtColor(np.ascontiguousarray(rgb.permute(1, 2, 0).numpy()), cv2.COLOR_RGB2GRAY)


def flow(first: np.ndarray, second: np.ndarray, method: str = "farneback") -> np.ndarray:
    """Flow (H x W x 2: x, y in pixels) of two uint8 greys as OpenCV defines it:
    first(p) ~ second(p + flow(p))."""
    cv2 = cv2_module()
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(first, second, None, *FARNEBACK)
    if method == "dis":
        height, width = first.shape
        pad_h, pad_w = max(DIS_MIN_SIDE - height, 0), max(DIS_MIN_SIDE - width, 0)
        if pad_h or pad_w:
            first, second = (cv2.copyMakeBorder(g, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
                             for g in (first, second))
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(first, second, None)[:height, :width]
    raise VividError(f"motion {method!r}: choose one of {', '.join(METHODS)}")


def frame_flow(current: torch.Tensor, previous: torch.Tensor, method: str = "farneback"
               ) -> torch.Tensor:
    """N x 2 x H x W flow (x, y) from each ``current`` frame to its ``previous`` one (N x 3 x
    H x W in [0, 1]): where each pixel of the current frame was in the previous one, fp32 on
    the device of ``current``. No gradient (OpenCV)."""
    flows = [flow(grey(c), grey(p), method) for c, p in zip(current, previous, strict=True)]
    stacked = torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2)
    return stacked.to(current.device, torch.float32)

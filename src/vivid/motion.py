"""Dense optical flow between frames (OpenCV Farneback), the one place its settings live.

Used by the temporal metric tOF (``vivid.video.metrics``), the image models' ``--temporal
flow`` filter (``vivid.video.temporal``) and, as its motion estimate, the frame-recurrent
generator (``vivid.nets.frvsr``, ``motion = "farneback"``). Settings: TecoGAN's (pyramid scale
0.5, 3 levels, window 15, 3 iterations, poly_n 5, poly_sigma 1.2), on the OpenCV greyscale of
8-bit frames.
"""

from __future__ import annotations

import numpy as np
import torch

from vivid.errors import VividError
from vivid.images.pixels import to_uint8

# TecoGAN's Farneback settings: pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


def cv2_module():
    """OpenCV, or a one-line error saying how to install it."""
    try:
        import cv2
    except ImportError as error:
        raise VividError("optical flow needs OpenCV: pip install 'vivid[video]'") from error
    return cv2


def grey(frame: torch.Tensor) -> np.ndarray:
    """uint8 greyscale (OpenCV's RGB2GRAY weights) of a 1 x 3 x H x W or 3 x H x W frame."""
    cv2 = cv2_module()
    rgb = to_uint8(frame.detach().float().cpu().reshape(3, *frame.shape[-2:]))
    return cv2.cvtColor(np.ascontiguousarray(rgb.permute(1, 2, 0).numpy()), cv2.COLOR_RGB2GRAY)


def flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Farneback flow (H x W x 2: x, y in pixels) as OpenCV defines it:
    first(p) ~ second(p + flow(p))."""
    return cv2_module().calcOpticalFlowFarneback(first, second, None, *FARNEBACK)


def frame_flow(current: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """N x 2 x H x W flow (x, y) from each ``current`` frame to its ``previous`` one (N x 3 x
    H x W in [0, 1]): where each pixel of the current frame was in the previous one, fp32 on
    the device of ``current``. No gradient (OpenCV)."""
    flows = [flow(grey(c), grey(p)) for c, p in zip(current, previous, strict=True)]
    stacked = torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2)
    return stacked.to(current.device, torch.float32)

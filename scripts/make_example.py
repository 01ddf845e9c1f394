"""Make examples/astronaut.png: scikit-image's 'astronaut' (NASA, public domain), x4 smaller.

The 512x512 photo is downscaled with vivid's MATLAB-style bicubic to 128x128, so upscaling it
x4 can be compared with the original. Run: python scripts/make_example.py (needs scikit-image).
"""

from __future__ import annotations

from pathlib import Path

import torch
from skimage import data

from vivid.degrade import imresize
from vivid.images import imagefile

if __name__ == "__main__":
    hr_image = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    lr_image = imresize(hr_image, 0.25, quantize=True)
    target = Path(__file__).resolve().parents[1] / "examples" / "astronaut.png"
    info = imagefile.ImageInfo(mode="RGB", bit_depth=8, greyscale=False)
    imagefile.write_image(target, lr_image, None, info)
    print(f"wrote {target} ({lr_image.shape[3]}x{lr_image.shape[2]})")

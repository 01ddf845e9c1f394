"""Training data: HR image folders, LR made with MATLAB bicubic, random aligned crops.

Every HR image is cropped (top-left) to a multiple of the scale and its LR made once, with
``imresize(quantize=True)`` exactly as MATLAB makes LR files from uint8 images; both are kept
in memory as uint8. A batch is a pure function of (seed, iteration, rank): crops, flips and
90-degree rotations come from a generator seeded with those numbers, so a resumed run sees
the very batches an uninterrupted run would, with no data-order state to save, and DDP ranks
draw disjoint parts of one global batch. Each crop's image is drawn uniformly over the images
(the default), or with ``data.balance = "folder"`` a training folder uniformly and then one of
its images (equal weight per folder: per domain); ``data.only`` keeps just the named files.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from vivid.degrade import crop_to_multiple, make_pair
from vivid.errors import VividError
from vivid.images import imagefile
from vivid.images.listing import list_images
from vivid.images.pixels import to_uint8

log = logging.getLogger(__name__)


def _premade_pair(lr_path: Path, hr_image: torch.Tensor, scale: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    lr_image = imagefile.read_image(lr_path).rgb
    hr_image = crop_to_multiple(hr_image, scale)
    expected = (hr_image.shape[-2] // scale, hr_image.shape[-1] // scale)
    if tuple(lr_image.shape[-2:]) != expected:
        raise VividError(f"{lr_path}: LR is {lr_image.shape[-1]}x{lr_image.shape[-2]}, the HR "
                         f"image needs {expected[1]}x{expected[0]} at x{scale}")
    return lr_image, hr_image


@dataclass
class PairedCrops:
    """Random aligned LR/HR crops from in-memory images; see the module docstring."""

    lr_images: list[torch.Tensor]  # 3 x h x w uint8
    hr_images: list[torch.Tensor]  # 3 x sh x sw uint8
    scale: int
    crop: int  # HR crop side
    # False for LR grids anchored at the first pixel (BD): then only transposes keep LR on
    # its HR's grid, flips and quarter turns would move it by scale - 1 HR pixels
    flips_keep_alignment: bool = True

    # "folder" balance: how many of the images (in order) each training folder gave; empty:
    # every image equally likely
    folder_sizes: tuple[int, ...] = ()

    @classmethod
    def from_folders(cls, folders: Iterable[str | Path], scale: int, crop: int,
                     exclude: Iterable[str] = (), recursive: bool = False,
                     lr_folders: Iterable[str | Path] = (), degradation: str = "bicubic",
                     only: Iterable[str] = (), balance: str = "image") -> PairedCrops:
        """Load every image of ``folders`` except the names in ``exclude`` (with ``only``:
        just the images of those names, each of which must be in exactly one folder).

        With ``lr_folders`` (one per HR folder) the LR images are read from there (same
        relative names) instead of being made; their size times ``scale`` must equal the HR
        size cropped to a multiple of ``scale``. ``balance="folder"``: every folder is drawn
        equally often (``draw``), so each must give at least one image.
        """
        if crop % scale:
            raise VividError(f"crop {crop} is not a multiple of the scale {scale}")
        folders, lr_folders = [Path(f) for f in folders], [Path(f) for f in lr_folders]
        if lr_folders and len(lr_folders) != len(folders):
            raise VividError(f"{len(lr_folders)} LR folders for {len(folders)} HR folders")
        paths = _chosen_paths(folders, recursive, set(exclude), set(only))
        lr_images, hr_images, sizes, too_small = [], [], [], 0
        for index, folder in enumerate(folders):
            sizes.append(0)
            for path in paths[index]:
                hr_image = imagefile.read_image(path).rgb
                if min(hr_image.shape[-2:]) < crop:
                    too_small += 1
                    continue
                if lr_folders:
                    lr_path = lr_folders[index] / path.relative_to(folder)
                    lr_image, hr_image = _premade_pair(lr_path, hr_image, scale)
                else:
                    lr_image, hr_image = make_pair(hr_image, scale, degradation)
                lr_images.append(to_uint8(lr_image[0]))
                hr_images.append(to_uint8(hr_image[0]))
                sizes[-1] += 1
        if too_small:
            log.warning("skipped %d images smaller than the %dpx crop", too_small, crop)
        if not hr_images:
            raise VividError(f"no training images of at least {crop}x{crop} in "
                             f"{', '.join(map(str, folders))}")
        if balance == "folder" and 0 in sizes:
            raise VividError(f"{folders[sizes.index(0)]}: no training image of at least "
                             f"{crop}x{crop} (data.balance = \"folder\" draws every folder)")
        return cls(lr_images, hr_images, scale, crop, degradation != "bd",
                   tuple(sizes) if balance == "folder" else ())

    def draw(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` image indices: uniform over the images, or (``folder_sizes``) a folder
        uniformly, then an image of it uniformly. The first case is the draw of every run
        before ``data.balance`` existed, so their batches stay the same."""
        if not self.folder_sizes:
            return torch.randint(len(self), (count,), generator=generator)
        sizes = torch.tensor(self.folder_sizes)
        starts = torch.cumsum(sizes, 0) - sizes
        folders = torch.randint(len(sizes), (count,), generator=generator)
        within = torch.rand(count, generator=generator, dtype=torch.float64) * sizes[folders]
        return starts[folders] + within.long().clamp(max=sizes[folders] - 1)

    def __len__(self) -> int:
        return len(self.hr_images)

    def crop_pair(self, index: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        lr_image, hr_image = self.lr_images[index], self.hr_images[index]
        lr_crop = self.crop // self.scale
        top = int(torch.randint(lr_image.shape[1] - lr_crop + 1, (1,), generator=generator))
        left = int(torch.randint(lr_image.shape[2] - lr_crop + 1, (1,), generator=generator))
        lr_patch = lr_image[:, top:top + lr_crop, left:left + lr_crop]
        s = self.scale
        hr_patch = hr_image[:, top * s:(top + lr_crop) * s, left * s:(left + lr_crop) * s]
        flip = int(torch.randint(2, (1,), generator=generator))
        turns = int(torch.randint(4, (1,), generator=generator))
        if not self.flips_keep_alignment:
            if flip:
                lr_patch, hr_patch = lr_patch.transpose(1, 2), hr_patch.transpose(1, 2)
            return lr_patch, hr_patch
        if flip:
            lr_patch, hr_patch = lr_patch.flip(-1), hr_patch.flip(-1)
        lr_patch, hr_patch = lr_patch.rot90(turns, (1, 2)), hr_patch.rot90(turns, (1, 2))
        return lr_patch, hr_patch

    def batch(self, seed: int, iteration: int, batch_size: int, rank: int = 0,
              world_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of global batch ``iteration``: float LR and HR in [0, 1]."""
        generator = torch.Generator().manual_seed(seed * 1_000_003 + iteration)
        indices = self.draw(batch_size * world_size, generator)
        pairs = [self.crop_pair(int(i), generator) for i in indices]
        mine = pairs[rank * batch_size:(rank + 1) * batch_size]
        lr_batch = torch.stack([p[0] for p in mine]).float() / 255
        hr_batch = torch.stack([p[1] for p in mine]).float() / 255
        return lr_batch, hr_batch


def _chosen_paths(folders: list[Path], recursive: bool, exclude: set[str], only: set[str]
                  ) -> list[list[Path]]:
    """Per folder, its images to train on: not in ``exclude``, and in ``only`` if given;
    every name of ``only`` must be found in exactly one folder."""
    chosen = [[p for p in list_images(folder, recursive)
               if p.name not in exclude and (not only or p.name in only)] for folder in folders]
    if only:
        found = [p.name for paths in chosen for p in paths]
        missing = sorted(only - set(found))
        if missing:
            raise VividError(f"data.only: {len(missing)} names are in no training folder, "
                             f"e.g. {missing[0]!r}")
        twice = sorted(name for name, times in Counter(found).items() if times > 1)
        if twice:
            raise VividError(f"data.only: {twice[0]!r} is in more than one training folder")
    return chosen


class CropDataset(torch.utils.data.Dataset):
    """Map-style view for a ``DataLoader``: item ``k`` is one crop drawn with a generator
    seeded by (seed, k), so any number of workers yields exactly the same samples."""

    def __init__(self, pairs: PairedCrops, seed: int, length: int) -> None:
        self.pairs, self.seed, self.length = pairs, seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + item)
        index = int(self.pairs.draw(1, generator)[0])
        lr_patch, hr_patch = self.pairs.crop_pair(index, generator)
        return lr_patch.float() / 255, hr_patch.float() / 255

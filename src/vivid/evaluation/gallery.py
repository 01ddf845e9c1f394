"""Self-contained HTML comparison page for ``vivid eval --gallery DIR``.

For each image: a thumbnail of the HR image with the zoomed region marked, then the same
region from the LR input (nearest-neighbour upscaled), each model's output and the HR image,
magnified without smoothing, with the per-image PSNR / SSIM / NIQE under each. The region is
the crop with the most HR detail (largest gradient energy). Images are embedded as data URIs,
so the page is one file that can be mailed or archived.
"""

from __future__ import annotations

import base64
import html
import io as stdio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from vivid.atomic import write_text
from vivid.evaluation.evaluate import Sample
from vivid.images.pixels import to_uint8

CROP, ZOOM, THUMB = 64, 3, 240


def _png(image: torch.Tensor, fmt: str = "PNG") -> str:
    pixels = to_uint8(image[0]).permute(1, 2, 0).numpy()
    buffer = stdio.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, quality=88)
    kind = "png" if fmt == "PNG" else "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def detail_region(hr_image: torch.Tensor, size: int = CROP) -> tuple[int, int]:
    """Top-left corner of the ``size`` square with the largest gradient energy."""
    grey = hr_image.mean(dim=1, keepdim=True)
    energy = (grey.diff(dim=-1)[..., :-1, :] ** 2) + (grey.diff(dim=-2)[..., :, :-1] ** 2)
    size = min(size, energy.shape[-1], energy.shape[-2])
    pooled = F.avg_pool2d(energy, size, stride=max(1, size // 4))
    index = int(pooled.flatten().argmax())
    row, column = divmod(index, pooled.shape[-1])
    return row * max(1, size // 4), column * max(1, size // 4)


@dataclass
class _Entry:
    name: str
    thumbnail: str
    crops: dict[str, str] = field(default_factory=dict)


@dataclass
class Gallery:
    """Collects crops while ``evaluate`` runs (``add`` is its ``on_image``), then writes."""

    scale: int
    entries: dict[tuple[str, str], _Entry] = field(default_factory=dict)

    def _crop(self, image: torch.Tensor, corner: tuple[int, int]) -> torch.Tensor:
        top, left = corner
        return image[..., top:top + CROP, left:left + CROP]

    def add(self, dataset: str, model: str, sample: Sample, sr_image: torch.Tensor) -> None:
        corner = detail_region(sample.hr_image)
        key = (dataset, sample.name)
        if key not in self.entries:
            lr_big = sample.lr_image.repeat_interleave(self.scale, -1).repeat_interleave(
                self.scale, -2)
            self.entries[key] = _Entry(sample.name, self._thumbnail(sample.hr_image, corner))
            self.entries[key].crops["LR (nearest)"] = _png(self._crop(lr_big, corner))
            self.entries[key].crops["HR"] = _png(self._crop(sample.hr_image, corner))
        self.entries[key].crops[model] = _png(self._crop(sr_image, corner))

    def _thumbnail(self, hr_image: torch.Tensor, corner: tuple[int, int]) -> str:
        pixels = to_uint8(hr_image[0]).permute(1, 2, 0).numpy()
        image = Image.fromarray(pixels)
        top, left = corner
        ImageDraw.Draw(image).rectangle([left, top, left + CROP, top + CROP], outline="red",
                                        width=3)
        image.thumbnail((THUMB, THUMB))
        buffer = stdio.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        return f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode()}"

    def write(self, folder: Path, report: dict[str, Any]) -> Path:
        """Write ``folder/index.html`` (atomically) and return its path."""
        folder.mkdir(parents=True, exist_ok=True)
        rows = [self._row(dataset, entry, report["results"][dataset])
                for (dataset, _), entry in self.entries.items()]
        page = _PAGE.format(scale=report["scale"], degradation=report["degradation"],
                            channel=report["channel"].upper(),
                            rows="\n".join(rows), size=CROP * ZOOM)
        return write_text(folder / "index.html", page)

    def _row(self, dataset: str, entry: _Entry, table: dict[str, Any]) -> str:
        cells = [f'<td><img class="thumb" src="{entry.thumbnail}"><br>'
                 f"{html.escape(dataset)} / {html.escape(entry.name)}</td>"]
        order = ["LR (nearest)", *(m for m in table), "HR"]
        for label in order:
            numbers = table[label]["images"][entry.name] if label in table else {}
            caption = " / ".join(f"{numbers[k]:.{digits}f}"
                                 for k, digits in (("psnr", 2), ("ssim", 4), ("niqe", 3))
                                 if numbers.get(k) is not None)
            cells.append(f'<td><img class="crop" src="{entry.crops[label]}"><br>'
                         f"<b>{html.escape(label)}</b><br>{caption}</td>")
        return f"<tr>{''.join(cells)}</tr>"


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>vivid eval gallery</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
td {{ text-align: center; vertical-align: top; padding: 4px; font-size: 13px; }}
img.crop {{ width: {size}px; height: {size}px; image-rendering: pixelated; }}
img.thumb {{ max-width: 240px; }}
</style></head><body>
<h1>vivid eval: x{scale}, {degradation} degradation</h1>
<p>Zoomed crops (red box); numbers are PSNR (dB) / SSIM ({channel}), shave = scale / NIQE.</p>
<table>
{rows}
</table></body></html>
"""

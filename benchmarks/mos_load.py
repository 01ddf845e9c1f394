"""Load check of the MOS web app on loopback: 50 concurrent raters x 20 ratings each (each
image fetched before it is rated).
Usage: python benchmarks/mos_load.py   Writes benchmarks/results/mos_load.json.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from mos_harness import run_load
from PIL import Image

from common import save
from vivid.mos.create import create_study
from vivid.mos.study import connect


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        rng = np.random.default_rng(0)
        for method in ("a", "b"):
            (root / method).mkdir()
            for index in range(10):
                pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / method / f"{index}.png")
        create_study(root / "study", [f"a={root / 'a'}", f"b={root / 'b'}"])
        latencies = np.asarray(run_load(root / "study", raters=50, ratings_each=20,
                                         fetch_images=True))
        stored = connect(root / "study").execute("SELECT COUNT(*) FROM ratings").fetchone()[0]
    numbers = {"raters": 50, "ratings_each": 20, "stored": int(stored),
               "p50_ms": float(np.percentile(latencies, 50) * 1000),
               "p95_ms": float(np.percentile(latencies, 95) * 1000),
               "max_ms": float(latencies.max() * 1000)}
    print(f"stored {stored} of 1000 ratings; latency p50 {numbers['p50_ms']:.0f} ms, "
          f"p95 {numbers['p95_ms']:.0f} ms, max {numbers['max_ms']:.0f} ms")
    print(f"-> {save('mos_load', numbers)}")


if __name__ == "__main__":
    main()

"""Make docs/live.png: the ``vivid live`` page on examples/clip.mp4 in headless Chromium.

Runs ``vivid live examples/clip.mp4 --loop`` (the default model) in this process, opens the
page in Debian's Chromium (playwright, as the browser tests), waits until the status line
shows a measured speed, and saves a screenshot of the page.
Run: python scripts/live_screenshot.py [--model NAME] [--compare wipe] (needs the ``test``
extra and ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from PIL import Image
from playwright import sync_api

from vivid.live.models import default_live_model
from vivid.live.server import LiveOptions, session_in_thread

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "docs" / "live.png"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=default_live_model())
    parser.add_argument("--compare", choices=("side", "wipe"), default="side")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds before the shot")
    args = parser.parse_args()
    os.chdir(REPO)  # the page names the source as typed: examples/clip.mp4
    options = LiveOptions("examples/clip.mp4", args.model, loop=True, compare=args.compare)
    with session_in_thread(options) as (base, _), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1320, "height": 620})
        page.goto(base)
        time.sleep(args.settle)
        if args.compare == "wipe":
            page.keyboard.press("ArrowLeft")
        page.screenshot(path=str(TARGET))
        browser.close()
    Image.open(TARGET).convert("RGB").quantize(256).save(TARGET, optimize=True)
    print(f"wrote {TARGET} ({TARGET.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()

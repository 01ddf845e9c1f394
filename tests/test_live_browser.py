"""The live page in a real Chromium (Debian's, driven by playwright, as the MOS browser test)
on a looping generated file: frames change, the frames-per-second readout is a number, the
wipe follows a drag, pause holds the picture, the snapshot downloads a PNG, and the model is
switched from the page."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("av", reason="vivid live needs the 'video' extra")
pytest.importorskip("starlette", reason="the live page needs the 'mos' extra")
pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


from chromium import launched_chromium
from vivid.live.frames import bicubic
from vivid.live.models import LiveModel
from vivid.live.server import LiveOptions, Session, session_in_thread

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from live_speed import write_clip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


def quick_load(name: str, **options: object) -> LiveModel:
    """Bicubic under any model name: the page's behaviour without a model's cost."""
    return LiveModel(name, "test engine", 4, lambda rgb: bicubic(rgb, 4))


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Session]]:
    clip = write_clip(tmp_path / "loop.mp4", (48, 32), 15, 1.0)
    with session_in_thread(LiveOptions(str(clip), "bicubic", loop=True), quick_load) as running:
        yield running


def until(condition: Any, seconds: float = 10) -> None:
    """Poll ``condition`` (the page's CSP forbids playwright's wait_for_function: eval)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def shows(page: Any, expression: str) -> None:
    until(lambda: page.evaluate(expression))


def test_the_page_plays_measures_wipes_pauses_and_snapshots(
        live: tuple[str, Session], browser: Any, tmp_path: Path) -> None:
    base, session = live
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(base)
    shows(page, "Number(document.getElementById('fps').textContent) > 0")
    assert float(page.inner_text("#fps")) > 0
    assert page.inner_text("#sizes") == "48x32 \u2192 192x128"
    assert float(page.inner_text("#latency")) >= 0
    first = page.locator("#view").screenshot()
    page.wait_for_timeout(400)
    assert page.locator("#view").screenshot() != first  # the frames change

    page.click("button[data-compare=wipe]")
    shows(page, "document.getElementById('view').naturalWidth === 192")
    box = page.locator("#view").bounding_box()
    assert box is not None and page.is_visible("#handle")
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=5)
    page.mouse.up()
    until(lambda: abs(session.pipeline.view[1] - 0.2) < 0.02)
    assert session.pipeline.view[0] == "wipe"
    left = page.evaluate("parseFloat(document.getElementById('handle').style.left)")
    assert abs(left - 20) < 2  # the handle moved with the drag
    page.keyboard.press("ArrowRight")
    until(lambda: abs(session.pipeline.view[1] - 0.25) < 0.02)

    page.click("#pause")
    until(lambda: session.pipeline.pause.paused)
    shows(page, "document.getElementById('pause').textContent === 'play'")
    held = session.pipeline.shown.sequence
    page.wait_for_timeout(400)
    settled = session.pipeline.shown.sequence
    assert settled - held <= 1  # at most the frame in flight when the pause came
    page.wait_for_timeout(400)
    assert session.pipeline.shown.sequence == settled  # then nothing new while paused
    with page.expect_download() as download:
        page.click("#snapshot")
    saved = tmp_path / "snapshot.png"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"\x89PNG")
    page.click("#pause")
    until(lambda: not session.pipeline.pause.paused)
    page.close()


def test_the_model_is_switched_from_the_page(live: tuple[str, Session], browser: Any) -> None:
    base, session = live
    page = browser.new_page()
    page.goto(base)
    page.select_option("#model", "srresnet-x4")
    until(lambda: session.pipeline.model.name == "srresnet-x4")
    shows(page, "document.getElementById('model-name').textContent === 'srresnet-x4'")
    assert page.inner_text("#label-model") == "srresnet-x4"
    page.close()

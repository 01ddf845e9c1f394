"""The MOS app in a real Chromium (Debian's, driven by playwright): a whole session, key presses
before the image has loaded or twice in a row, a failed POST, native-size images, the
calibration page (issue 20, items 7, 8, 9)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the MOS app needs the 'mos' extra")
pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


from chromium import launched_chromium
from test_mos import make_study
from vivid.cli.main import main
from vivid.mos.create import create_study
from vivid.mos.server import serve_in_thread
from vivid.mos.study import connect

ENABLED = "button.score:not([disabled])"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


def ratings(study: Path) -> list[tuple[str, int]]:
    return connect(study).execute("SELECT image, score FROM ratings ORDER BY updated").fetchall()


def begin(page: Any, base: str, name: str) -> None:
    page.goto(base)
    page.fill("input[name=name]", name)
    page.click("#begin")
    page.click("#start-rating")


def test_real_browser_completes_a_session_by_clicks_and_keys(
    tmp_path: Path, browser: Any, capsys: pytest.CaptureFixture
) -> None:
    study = make_study(tmp_path, items=2)  # 3 methods x 2 items = 6 images
    with serve_in_thread(study, min_view_s=0.2) as base:
        page = browser.new_page()
        begin(page, base, "browser-rater")
        for index in range(6):
            page.wait_for_selector(f"text=Image {index + 1} of 6")
            if index == 3:  # a reload in the middle resumes where the rater was
                page.reload()
                page.wait_for_selector("text=Image 4 of 6")
            page.wait_for_selector(ENABLED)
            if index % 2 == 0:
                page.click(f"button[data-score='{index % 5 + 1}']")
            else:
                page.keyboard.press(str(index % 5 + 1))
        page.wait_for_selector("#done")
        page.close()
    assert [score for _, score in ratings(study)] == [1, 2, 3, 4, 5, 1]
    assert main(["mos", "report", str(study)]) == 0
    assert "browser-rater: 6" in capsys.readouterr().out


def test_early_and_double_key_presses_record_at_most_one_rating(tmp_path: Path,
                                                                browser: Any) -> None:
    study = make_study(tmp_path, items=2)
    held: list[Any] = []
    with serve_in_thread(study, min_view_s=1.0) as base:
        page = browser.new_page()
        # the image stays "loading" until released
        page.route("**/r/*/image/*", lambda route: held.append(route))
        begin(page, base, "quick")
        page.wait_for_selector("text=Image 1 of 6")
        for key in "5155":
            page.keyboard.press(key)  # before the image has loaded
        page.wait_for_timeout(300)
        assert ratings(study) == [] and len(held) == 1
        held[0].continue_()
        page.unroute("**/r/*/image/*")
        page.wait_for_selector("#subject.shown")
        page.keyboard.press("2")  # loaded, but shown for less than the minimum time
        page.wait_for_timeout(200)
        assert ratings(study) == []
        page.wait_for_selector(ENABLED)
        page.keyboard.press("4")
        page.keyboard.press("3")  # a second key straight after
        page.wait_for_selector("text=Image 2 of 6")
        page.keyboard.press("1")  # the next image has not been shown long enough
        page.wait_for_timeout(300)
        page.close()
    stored = ratings(study)
    assert [score for _, score in stored] == [4]
    order = connect(study).execute("SELECT image_order FROM raters").fetchone()[0]
    assert stored[0][0] == json.loads(order)[0]  # the image that was shown first


def test_a_failed_post_is_reported_and_keeps_the_image(tmp_path: Path, browser: Any) -> None:
    study = make_study(tmp_path, items=1)
    with serve_in_thread(study, min_view_s=0.1) as base:
        page = browser.new_page()
        begin(page, base, "offline")
        page.wait_for_selector(ENABLED)
        shown = page.get_attribute("#trial", "data-image")
        page.route("**/api/rate", lambda route: route.abort())
        page.keyboard.press("4")
        page.wait_for_selector("text=Your rating was not saved")
        assert page.get_attribute("#trial", "data-image") == shown
        assert page.is_visible("#subject") and "Image 1 of 3" in page.inner_text("#progress")
        page.unroute("**/api/rate")
        page.wait_for_selector(ENABLED)
        page.keyboard.press("4")
        page.wait_for_selector("text=Image 2 of 3")
        page.close()
    assert ratings(study) == [(shown, 4)]


def big_study(root: Path) -> Path:
    """One 600x400 image per method (smooth, so small files) and 500x300 training images."""
    ramp = np.linspace(0, 255, 600, dtype=np.uint8)
    for method in ("a", "b", "training"):
        (root / method).mkdir()
        pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:400, None],
                                              np.full((400, 600), 90, np.uint8)), axis=-1)
        name = "t" if method == "training" else "x"
        for index in range(2 if method == "training" else 1):
            Image.fromarray(pixels[:300, :500] if method == "training" else pixels).save(
                root / method / f"{name}{index}.png")
    create_study(root / "study", [f"a={root / 'a'}", f"b={root / 'b'}"],
                 training=root / "training")
    return root / "study"


def test_native_size_on_high_dpi_and_small_screens(tmp_path: Path, browser: Any) -> None:
    study = big_study(tmp_path)
    with serve_in_thread(study, min_view_s=0.1) as base:
        small = browser.new_context(viewport={"width": 400, "height": 300},
                                    device_scale_factor=1)
        page = small.new_page()
        page.goto(base)
        page.click("#begin")
        button = page.locator("#start-rating").bounding_box()
        assert button is not None and button["y"] + button["height"] <= 300  # visible start
        for _ in range(50):  # the pair is laid out once its images are decoded (<= 5 s)
            tops = [box["y"] for box in (f.bounding_box() for f in
                                         page.locator(".pair").first.locator("figure").all())]
            if len(tops) == 2 and tops[0] == tops[1]:
                break
            page.wait_for_timeout(100)
        assert len(tops) == 2 and tops[0] == tops[1]  # the pair side by side
        page.click("#start-rating")
        page.wait_for_selector("#subject.shown")
        assert page.evaluate("document.getElementById('subject').clientWidth") == 600
        assert page.is_visible("#too-small")  # scrolls with a notice instead of scaling
        small.close()
        retina = browser.new_context(viewport={"width": 1280, "height": 800},
                                     device_scale_factor=2)
        page = retina.new_page()
        page.goto(base)
        page.click("#begin")
        page.click("#start-rating")
        page.wait_for_selector("#subject.shown")
        size = page.evaluate("[document.getElementById('subject').clientWidth, "
                             "document.getElementById('subject').clientHeight]")
        assert size == [300, 200]  # 600x400 image pixels = 300x200 CSS px at ratio 2
        assert not page.is_visible("#too-small")
        retina.close()

"""What the command line tells a newcomer (issue 32): help texts that list the models and
every stage, summary lines that name the model and the engine, and one clear line with the
right exit code, and nothing left behind, for each defect the issue found."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vivid.cli.main import build_parser, main
from vivid.inference.loader import MODEL_GUIDE
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.weights_file import bundled_models, save_generator
from vivid.training.config_checks import STAGES

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "examples" / "clip.mp4"
EXAMPLE = REPO / "examples" / "astronaut.png"


def _help(*command: str) -> str:
    parser = build_parser()
    for name in command:
        parser = next(a for a in parser._actions if a.dest == "command").choices[name]
    return parser.format_help()


def _image(path: Path) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _tiny_video_model(path: Path) -> Path:
    save_generator(path, RecurrentGenerator(GeneratorConfig(scale=4, blocks=1, channels=8)))
    return path


# help texts


def test_upscale_help_lists_every_bundled_model_with_when_to_use_it() -> None:
    text = _help("upscale")
    for name in [*bundled_models(), "bicubic"]:
        assert name in MODEL_GUIDE, f"{name}: no line in loader.MODEL_GUIDE"
        line = next(line for line in text.splitlines() if line.strip().startswith(name + " "))
        assert MODEL_GUIDE[name].split()[0] in line
    assert "video-x4" in text and "default for images" in text


def test_the_top_help_says_images_and_videos_without_markup() -> None:
    text = _help()
    assert "``" not in text and "images and videos" in text
    assert re.search(r"upscale\s+upscale images and videos", text)


def test_train_help_lists_every_stage() -> None:
    text = " ".join(_help("train").split())
    for stage in STAGES:
        assert stage in text


def test_eval_video_help_names_its_options_not_dir() -> None:
    text = _help("eval-video")
    assert "DIR" not in text and "--dataset" in text.split("options:")[0]


# summary lines and -v


def test_image_summary_and_verbose_name_the_model_and_the_engine_auto_chose(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["upscale", str(EXAMPLE), "-o", str(tmp_path / "a.png"), "-v"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"with srgan-x4 \(auto -> \w+ \w+", captured.out)
    assert re.search(r"srgan-x4 runs with auto -> \w+ \w+.* \(--runtime auto\)", captured.err)


def test_video_summary_names_the_model_and_the_engine(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("av", reason="needs the 'video' extra")
    assert main(["upscale", str(CLIP), "-o", str(tmp_path / "c.mp4"), "--model", "bicubic",
                 "-q"]) == 0
    assert "36 frames x4 with bicubic (bicubic) at 12 fps" in capsys.readouterr().out
    model = _tiny_video_model(tmp_path / "tiny.safetensors")
    assert main(["upscale", str(CLIP), "-o", str(tmp_path / "v.mp4"), "--model", str(model),
                 "-q", "--precision", "fp32"]) == 0
    assert f"frames x4 with {model} (auto -> " in capsys.readouterr().out  # what auto chose


# defects


def test_conflicting_options_exit_2_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("av", reason="needs the 'video' extra")
    model = _tiny_video_model(tmp_path / "tiny.safetensors")
    out = tmp_path / "out"
    assert main(["upscale", str(CLIP), "-o", str(out / "c.mp4"), "--model", str(model),
                 "--temporal", "flow", "-q"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"error: --temporal flow is for image models; {model} is a video model "
                     "and needs none")
    assert not out.exists()


def test_a_failed_run_leaves_no_empty_output_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "new" / "out"
    assert main(["upscale", str(tmp_path / "missing.png"), "-o", str(out), "--model",
                 "bicubic", "-q"]) == 1
    assert "missing.png: no such file" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    assert main(["degrade", str(tmp_path / "missing.png"), "-o", str(out), "-q"]) == 1
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    assert main(["upscale", str(tmp_path / "missing.png"), "-o", str(existing), "--model",
                 "bicubic", "-q"]) == 1
    assert existing.is_dir()  # a folder that was there before stays


def test_a_successful_run_keeps_its_new_folder(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    assert main(["upscale", str(_image(tmp_path / "a.png")), "-o", str(out), "--model",
                 "bicubic", "-q"]) == 0
    assert (out / "a.png").is_file()


def test_an_empty_video_file_is_one_plain_line(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("av", reason="needs the 'video' extra")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert main(["upscale", str(empty), "-o", str(tmp_path / "out"), "--model", "bicubic",
                 "-q"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == f"error: {empty}: not a readable video (an empty file)"
    (tmp_path / "text.mp4").write_text("not a video")
    assert main(["upscale", str(tmp_path / "text.mp4"), "-o", str(tmp_path / "out"),
                 "--model", "bicubic", "-q"]) == 1
    error = capsys.readouterr().err.strip()
    assert "text.mp4: not a readable video (" in error and "Errno" not in error
    assert error.count(str(tmp_path / "text.mp4")) == 1 and not (tmp_path / "out").exists()


def test_a_text_file_as_model_says_it_is_not_a_weights_file(
        capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    readme = REPO / "README.md"
    assert main(["upscale", str(EXAMPLE), "-o", str(tmp_path / "a.png"), "--model",
                 str(readme), "-q"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {readme}: not a weights file; give a bundled model name")
    assert "Python objects" not in error and "\n" not in error


# progress


def test_eval_video_progress_counts_frames_of_every_method(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cv2", reason="needs the 'video' extra")
    import vivid.video.evaluate
    from video_fixtures import video_data

    bars: list[dict] = []

    class Bar:
        def __init__(self, total: int, **kwargs: object) -> None:
            bars.append({"total": total, "done": 0, "descriptions": []})

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *args: object) -> None:
            pass

        def update(self, count: int) -> None:
            bars[-1]["done"] += count

        def set_description(self, text: str) -> None:
            bars[-1]["descriptions"].append(text)

    monkeypatch.setattr(vivid.video.evaluate, "tqdm", Bar)
    clips, _ = video_data(tmp_path / "data", size=64)  # 2 sequences x 6 frames
    vivid.video.evaluate.evaluate_video([str(_tiny_video_model(tmp_path / "v.safetensors"))],
                                        clips, ["flow"], device="cpu")
    assert bars == [{"total": 2 * 2 * 6, "done": 24, "descriptions": [
        f"clip{i}: {label}" for i in range(2) for label in ("bicubic",
                                                            str(tmp_path / "v.safetensors"))]}]

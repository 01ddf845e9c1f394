from __future__ import annotations

import itertools
import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

av = pytest.importorskip("av", reason="video needs the 'video' extra (PyAV)")
pytest.importorskip("cv2", reason="video needs the 'video' extra (OpenCV)")


from vivid.cli.main import main  # noqa: E402
from vivid.degrade import imresize  # noqa: E402
from vivid.errors import VividError  # noqa: E402
from vivid.video.codec import VideoOptions, upscale_video  # noqa: E402
from vivid.video.evaluate import protocol_psnr_ssim  # noqa: E402
from vivid.video.metrics import tof, warping_error  # noqa: E402
from vivid.video.temporal import TemporalBlend  # noqa: E402

RATE = Fraction(24000, 1001)


def make_clip(path: Path, frames: int = 10, size: tuple[int, int] = (32, 24),
              audio: bool = True, codec: str = "mpeg4", rotate: int = 0) -> Path:
    """A clip of random frames and, optionally, a 440 Hz sine tone (AAC, mono, 48 kHz)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=RATE)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        if rotate:
            video.set_display_rotation(rotate)
        sound = out.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for _ in range(frames):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        if sound is not None:
            total = int(48000 * frames / RATE)
            wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(total) / 48000)).astype(np.float32)
            for start in range(0, total, 1024):
                frame = av.AudioFrame.from_ndarray(wave[None, start:start + 1024],
                                                   format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 48000, start
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    return path


def describe(path: Path) -> dict:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {"rate": stream.average_rate, "width": stream.codec_context.width,
                "duration": container.duration / 1e6, "audio": len(container.streams.audio)}
        info["frames"] = sum(1 for _ in container.decode(video=0))
    if info["audio"]:
        with av.open(str(path)) as container:
            info["samples"] = np.concatenate([f.to_ndarray() for f in
                                              container.decode(audio=0)], axis=1)
    return info


def test_video_keeps_frames_rate_duration_and_audio(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "clip.mp4")
    assert main(["upscale", str(source), "-o", str(tmp_path / "out.mp4"), "--model",
                 "bicubic", "--quiet"]) == 0
    before, after = describe(source), describe(tmp_path / "out.mp4")
    assert after["frames"] == before["frames"] == 10 and after["rate"] == RATE
    assert after["width"] == 4 * before["width"]
    assert abs(after["duration"] - before["duration"]) <= 1 / RATE
    assert np.array_equal(after["samples"], before["samples"])  # remuxed, not re-encoded


def test_video_without_audio_and_folder_output(tmp_path: Path) -> None:
    make_clip(tmp_path / "in" / "a.mkv", audio=False) if (tmp_path / "in").mkdir() is None \
        else None
    assert main(["upscale", str(tmp_path / "in" / "a.mkv"), "-o", str(tmp_path / "out"),
                 "--model", "bicubic", "--quiet", "--temporal", "flow"]) == 0
    assert describe(tmp_path / "out" / "a.mkv")["frames"] == 10


def test_videos_and_images_get_their_own_default_model(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import vivid.cli.images as cli_images

    loads: list[str] = []
    real_load = cli_images.load_upscaler
    monkeypatch.setattr(cli_images, "load_upscaler",
                        lambda name, **kw: loads.append(name) or real_load(name, **kw))
    monkeypatch.setattr(cli_images, "DEFAULT_VIDEO_MODEL", "bicubic")
    monkeypatch.setattr(cli_images, "DEFAULT_MODEL", "srresnet-x4")
    clip = make_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    Image.new("RGB", (12, 10), (90, 140, 30)).save(tmp_path / "still.png")
    inputs = [str(clip), str(tmp_path / "still.png")]
    assert main(["upscale", *inputs, "-o", str(tmp_path / "a"), "--quiet"]) == 0
    assert loads == ["bicubic", "srresnet-x4"]
    assert describe(tmp_path / "a" / "clip.mp4")["frames"] == 3
    assert Image.open(tmp_path / "a" / "still.png").size == (48, 40)
    loads.clear()  # --model: one model for both, loaded once
    assert main(["upscale", *inputs, "-o", str(tmp_path / "b"), "--model", "bicubic",
                 "--quiet"]) == 0
    assert loads == ["bicubic"]


def test_frame_folder_round_trip(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(1)
    for index in range(5):
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(
            frames / f"{index:08d}.png")
    assert main(["upscale", str(frames), "-o", str(tmp_path / "out"), "--frames", "--model",
                 "bicubic", "--quiet"]) == 0
    written = sorted((tmp_path / "out" / "frames").iterdir())
    assert [p.name for p in written] == [f"{i:08d}.png" for i in range(5)]
    with Image.open(written[0]) as image:
        assert image.size == (64, 48)
    expected = imresize(torch.from_numpy(np.asarray(Image.open(frames / "00000000.png"))
                                         ).permute(2, 0, 1)[None].float() / 255, 4)
    got = torch.from_numpy(np.asarray(Image.open(written[0]))).permute(2, 0, 1)[None] / 255
    assert (got - expected.clamp(0, 1)).abs().max() <= 1 / 255 + 1e-6
    again = ["upscale", str(frames), "-o", str(tmp_path / "out"), "--frames", "--model",
             "bicubic", "--quiet", "--overwrite"]
    assert main(again) == 0  # replaces the old frame folder
    assert sorted((tmp_path / "out" / "frames").iterdir()) == written
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["frames"]


def test_bad_videos(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "text.mp4").write_text("not a video")
    full = make_clip(tmp_path / "full.mp4", frames=30)
    (tmp_path / "cut.mp4").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    streamable = make_clip(tmp_path / "full.mkv", frames=30)  # MKV decodes up to the cut
    (tmp_path / "cut.mkv").write_bytes(streamable.read_bytes()[: streamable.stat().st_size // 2])
    with av.open(str(tmp_path / "sound.m4a"), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    (tmp_path / "sound.m4a").rename(tmp_path / "sound.mp4")
    out = tmp_path / "out"
    names = ("text.mp4", "cut.mp4", "cut.mkv", "sound.mp4")
    code = main(["upscale", *(str(tmp_path / n) for n in names),
                 "-o", str(out), "--model", "bicubic", "--quiet"])
    printed = capsys.readouterr().err
    assert code == 1
    assert "text.mp4: not a readable video" in printed
    assert "sound.mp4: has no video stream" in printed
    assert "cut.mp4: not a readable video" in printed
    assert "cut.mkv: the video stream ends after" in printed
    assert not out.exists() or not any(out.iterdir())  # no partial files


def test_unknown_codec_names_alternatives(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "clip.mp4", audio=False)
    with pytest.raises(VividError, match=r"--codec nonsense: no such encoder.*mpeg4"):
        upscale_video(lambda x: x, 1, source, tmp_path / "o.mp4", VideoOptions("nonsense"))


def test_odd_sizes_are_cropped_and_said(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "clip.mp4", size=(34, 26), audio=False)
    summary = upscale_video(lambda x: imresize(x, 3).clamp(0, 1)[..., :, :], 3, source,
                            tmp_path / "o.mp4", progress=False)
    assert summary.size == (102, 78) and summary.note == ""
    odd = make_clip(tmp_path / "odd.mkv", size=(33, 25), audio=False, codec="ffv1")
    summary = upscale_video(lambda x: imresize(x, 3).clamp(0, 1), 3, odd,
                            tmp_path / "o2.mp4", progress=False)
    assert summary.size == (98, 74) and "cropped 99x75 to 98x74" in summary.note


def _static_scene(frames: int = 8, flicker: float = 0.1) -> tuple[list, list]:
    generator = torch.Generator().manual_seed(0)
    lr_frame = torch.rand(1, 3, 24, 24, generator=generator)
    base = imresize(lr_frame, 4).clamp(0, 1)
    sr_frames = [(base + flicker * torch.randn(base.shape, generator=generator)).clamp(0, 1)
                 for _ in range(frames)]
    return [lr_frame] * frames, sr_frames


def test_temporal_blend_removes_flicker_on_static_content() -> None:
    lr_frames, sr_frames = _static_scene()
    blend = TemporalBlend(scale=4)
    blended = [blend(lr, sr) for lr, sr in zip(lr_frames, sr_frames, strict=True)]
    raw_change = torch.stack([(b - a).abs().mean() for a, b in itertools.pairwise(sr_frames)])
    new_change = torch.stack([(b - a).abs().mean() for a, b in itertools.pairwise(blended)])
    assert new_change.mean() < 0.6 * raw_change.mean()


def test_temporal_blend_keeps_new_content() -> None:
    blend = TemporalBlend(scale=4)
    first, second = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24)  # a scene cut
    blend(first, imresize(first, 4))
    sr_second = imresize(second, 4)
    out = blend(second, sr_second)
    assert (out - sr_second).abs().mean() < 0.02


def test_tof_and_warping_error() -> None:
    lr_frames, sr_frames = _static_scene(frames=9)
    truth = [imresize(lr, 4).clamp(0, 1) for lr in lr_frames]
    assert tof(truth, truth) == 0.0
    assert warping_error(truth, truth) < 1e-3  # only the flow estimate's own noise
    assert tof(sr_frames, truth) > 0.05 and warping_error(sr_frames, truth) > 1.0


def test_eval_video_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(2)
    for sequence in ("one", "two"):
        folder = tmp_path / "GT" / sequence
        folder.mkdir(parents=True)
        scene = rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)
        for index in range(8):
            Image.fromarray(np.roll(scene, index, axis=1)[:64, :64]).save(
                folder / f"{index:08d}.png")
    assert main(["eval-video", "--dataset", str(tmp_path / "GT"), "--json",
                 str(tmp_path / "v.json"), "--quiet"]) == 0
    report = json.loads((tmp_path / "v.json").read_text())
    assert set(report["results"]["bicubic"]) == {"one", "two", "mean"}
    assert {"psnr", "ssim", "tof", "warping_error"} <= set(report["results"]["bicubic"]["mean"])
    assert "bicubic" in capsys.readouterr().out


def test_rotation_and_compare_split(tmp_path: Path) -> None:
    from vivid.video.codec import rotation

    source = make_clip(tmp_path / "clip.mp4", audio=False, rotate=90)
    assert main(["upscale", str(source), "-o", str(tmp_path / "out.mkv"), "--model",
                 "bicubic", "--quiet", "--compare", "split", "--codec", "ffv1",
                 "--pix-fmt", "yuv444p"]) == 0
    assert rotation(tmp_path / "out.mkv") == 90
    with av.open(str(tmp_path / "out.mkv")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.shape == (96, 128, 3)
    assert (frame[:, 63:65] >= 250).all()  # the white divider between bicubic and vivid


VFR_GAPS_MS = {"uneven": [33, 67, 20, 50] * 3, "freeze": [33, 33, 1000, 33, 33],
               "pairs": [10, 90] * 5}


def make_vfr_clip(path: Path, gaps_ms: list[int]) -> Path:
    """A clip whose frames are ``gaps_ms`` apart (in a millisecond time base)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=30)
        video.width, video.height, video.pix_fmt = 32, 24, "yuv420p"
        video.codec_context.time_base = video.time_base = Fraction(1, 1000)
        for pts in itertools.accumulate([0, *gaps_ms]):
            frame = av.VideoFrame.from_ndarray(
                rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    return path


def timestamps(path: Path) -> list[Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.pts * stream.time_base for frame in container.decode(stream)]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("kind", sorted(VFR_GAPS_MS))
def test_variable_frame_rate_keeps_every_timestamp(tmp_path: Path, kind: str,
                                                   suffix: str) -> None:
    source = make_vfr_clip(tmp_path / f"{kind}{suffix}", VFR_GAPS_MS[kind])
    target = tmp_path / f"out{suffix}"
    assert main(["upscale", str(source), "-o", str(target), "--model", "bicubic",
                 "--quiet"]) == 0
    expected = [Fraction(ms, 1000) for ms in itertools.accumulate([0, *VFR_GAPS_MS[kind]])]
    assert timestamps(source) == expected
    assert timestamps(target) == expected


def test_video_rerun_skips_and_output_mode_follows_umask(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = make_clip(tmp_path / "clip.mkv", frames=4, audio=False)
    args = ["upscale", str(source), "-o", str(tmp_path / "out"), "--model", "bicubic",
            "--quiet"]
    previous = os.umask(0o022)
    try:
        assert main(args) == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "out" / "clip.mkv").stat().st_mode & 0o777 == 0o644
    assert main(args) == 0
    assert "skipped" in capsys.readouterr().out
    assert main([*args, "--overwrite"]) == 0


def test_truncated_input_is_named_not_the_output(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    full = make_clip(tmp_path / "full.mkv", frames=30, audio=False)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 9 // 10])  # a few frames short
    out = tmp_path / "out"
    assert main(["upscale", str(cut), "-o", str(out), "--model", "bicubic", "--quiet"]) == 1
    [error] = capsys.readouterr().err.splitlines()
    assert "cut.mkv: the video stream ends after" in error and "truncated" in error
    assert str(out) not in error
    assert not out.exists() or not any(out.iterdir())


def test_tecogan_protocol_skips_end_frames_crops_8x8_and_keeps_y_unrounded() -> None:
    """PSNR as TecoGAN's metrics.py: frames 2..N-3, the crop_8x8 centre, Y not rounded,
    computed here independently in numpy."""
    rng = np.random.default_rng(5)
    truth = [torch.from_numpy(rng.random((1, 3, 80, 100))).float() for _ in range(7)]
    outputs = [(t + torch.from_numpy(rng.normal(0, 0.03, t.shape)).float()).clamp(0, 1)
               for t in truth]
    outputs[0] = outputs[-1] = torch.zeros_like(truth[0])  # skipped: must not count

    def y(frame: torch.Tensor) -> np.ndarray:
        levels = np.round(frame[0].numpy().astype(np.float64) * 255) / 255
        return 16 + 65.481 * levels[0] + 128.553 * levels[1] + 24.966 * levels[2]

    expected = []
    for out, gt in zip(outputs[2:-2], truth[2:-2], strict=True):
        crop = (slice(8, 72), slice(18, 82))  # 80 -> 64 (8 px a side), 100 -> 64
        mse = np.mean((y(out)[crop] - y(gt)[crop]) ** 2)
        expected.append(10 * np.log10(255**2 / mse))
    scores = protocol_psnr_ssim(outputs, truth, 4, "tecogan")
    assert scores["psnr"] == pytest.approx(np.mean(expected), abs=1e-6)
    assert protocol_psnr_ssim(outputs, truth, 4)["psnr"] < scores["psnr"]  # zeros counted


def test_the_temporal_warp_samples_as_opencv_remap() -> None:
    """``offsets_warp`` (the --temporal flow filter and warping error, on vivid.nets.warping)
    against OpenCV's remap: bilinear, borders replicated."""
    import cv2

    from vivid.video.temporal import offsets_warp

    rng = np.random.default_rng(0)
    image = rng.random((20, 28, 3), dtype=np.float32)
    offsets = (rng.standard_normal((20, 28, 2)) * 3).astype(np.float32)
    ys, xs = np.mgrid[0:20, 0:28].astype(np.float32)
    expected = cv2.remap(image, xs + offsets[..., 0], ys + offsets[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    warped = offsets_warp(torch.from_numpy(image).permute(2, 0, 1)[None], offsets)
    error = np.abs(warped[0].permute(1, 2, 0).numpy() - expected)
    assert error.max() < 0.02 and error.mean() < 3e-3  # remap rounds positions to 1/32 px


def test_a_video_model_with_a_preroll_keeps_every_timestamp(tmp_path: Path) -> None:
    """Its outputs come 6 frames late; each is still written with its own frame's pts."""
    from vivid.nets.frvsr import RecurrentGenerator
    from vivid.nets.srresnet import GeneratorConfig
    from vivid.nets.weights_file import save_generator

    model = tmp_path / "tiny.safetensors"
    save_generator(model, RecurrentGenerator(GeneratorConfig(scale=4, blocks=1, channels=8)))
    source = make_vfr_clip(tmp_path / "uneven.mp4", VFR_GAPS_MS["uneven"])
    target = tmp_path / "out.mp4"
    assert main(["upscale", str(source), "-o", str(target), "--model", str(model),
                 "--precision", "fp32", "--preroll", "6", "--quiet"]) == 0
    assert timestamps(target) == timestamps(source)
    assert len(timestamps(target)) == len(VFR_GAPS_MS["uneven"]) + 1

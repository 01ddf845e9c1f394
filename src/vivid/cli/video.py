"""The video side of the command line: ``vivid upscale`` on video files or frame folders, and
``vivid eval-video``. PyAV and OpenCV are imported only when a video is processed."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from vivid.atomic import write_text
from vivid.cli.options import add_evaluation_options
from vivid.degrade import imresize
from vivid.errors import VividError
from vivid.inference.recurrent import PREROLL, VideoUpscaler
from vivid.inference.upscaler import Upscaler
from vivid.video.codec import VIDEO_SUFFIXES, VideoOptions, is_video
from vivid.video.metrics import PROTOCOLS
from vivid.video.temporal import TEMPORAL_MODES, FrameFn, flush, make_filter, make_frame_fn

COMPARE_MODES = ("split", "wipe")
log = logging.getLogger(__name__)


def frame_count(text: str) -> int:
    """A count of frames (0 or more), for argparse."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a count of frames (0 or more)")
    return int(text)


def add_preroll_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--preroll", type=frame_count, default=PREROLL, metavar="N",
                        help="video models: run the recurrence backwards over the next N "
                        f"frames before each scene's first frame (default: {PREROLL}; 0: none)")


def add_video_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("video (files with a video suffix, or --frames folders)")
    group.add_argument("--frames", action="store_true",
                       help="treat folder inputs as frame sequences (%%08d.png out)")
    group.add_argument("--temporal", choices=TEMPORAL_MODES, default="none",
                       help="flow: flow-guided blending against flicker (default: none)")
    group.add_argument("--codec", default=None, help="video encoder (default: libx264, "
                       "else mpeg4)")
    group.add_argument("--crf", type=int, default=18, help="x264 quality (default: 18)")
    group.add_argument("--pix-fmt", default="yuv420p")
    add_preroll_option(group)
    group.add_argument("--compare", choices=COMPARE_MODES, default=None,
                       help="side by side: bicubic left, vivid right (split or moving wipe)")


class _Compare:
    """Bicubic on the left of a (fixed or moving) line, the model on the right; the model's
    outputs may come later than their frames (a pre-roll), so the LR frames wait for them."""

    def __init__(self, upscale: FrameFn, scale: int, mode: str) -> None:
        self.upscale, self.scale, self.mode = upscale, scale, mode
        self.waiting: list[torch.Tensor] = []  # LR frames whose output has not come yet
        self.frame = 0

    def __call__(self, lr_batch: torch.Tensor) -> torch.Tensor:
        self.waiting += list(lr_batch.split(1))
        return self._draw(self.upscale(lr_batch))

    def flush(self) -> torch.Tensor | None:
        rest = flush(self.upscale)
        return None if rest is None else self._draw(rest)

    def _draw(self, sr_batch: torch.Tensor) -> torch.Tensor:
        count = sr_batch.shape[0]
        if count == 0:
            return sr_batch
        bicubic = imresize(torch.cat(self.waiting[:count]), self.scale).clamp(0, 1)
        del self.waiting[:count]
        width = sr_batch.shape[-1]
        for index in range(count):
            phase = (self.frame % 120) / 120
            line = width // 2 if self.mode == "split" else int(width * (0.5 - 0.4 * abs(
                2 * phase - 1) + 0.2))
            sr_batch[index, :, :, :line] = bicubic[index, :, :, :line]
            sr_batch[index, :, :, max(line - 1, 0):line + 1] = 1.0  # a white divider
            self.frame += 1
        return sr_batch


def frame_function(upscaler: Upscaler | VideoUpscaler, args: argparse.Namespace
                   ) -> FrameFn:
    """A fresh frame function for one video: a video model's recurrence (a new stream per
    video), or an image model frame by frame with the chosen temporal filter."""
    if isinstance(upscaler, VideoUpscaler):
        if args.temporal != "none":
            raise VividError(f"--temporal {args.temporal} is for image models; "
                             f"{upscaler.name} is a video model and needs none")
        frame_fn: FrameFn = upscaler.stream(args.preroll)
    else:
        frame_fn = make_frame_fn(upscaler, make_filter(args.temporal, upscaler.scale))
    return _Compare(frame_fn, upscaler.scale, args.compare) if args.compare else frame_fn


def is_video_input(item: str, frames: bool) -> bool:
    path = Path(item)
    return (path.is_file() and is_video(path)) or (frames and path.is_dir())


def engine(upscaler: Upscaler | VideoUpscaler) -> str:
    """What runs a model, e.g. 'auto -> openvino bf16' (what ``--runtime auto`` chose)."""
    return (upscaler.image_upscaler() if isinstance(upscaler, VideoUpscaler)
            else upscaler).describe()


def upscale_videos(upscaler: Upscaler | VideoUpscaler, inputs: list[str], args: argparse.Namespace
                   ) -> list[str]:
    """Upscale each video/frame-folder input; returns the error messages (others go on)."""
    from vivid.video.codec import upscale_frame_folder, upscale_video

    failed = []
    how = f"x{upscaler.scale} with {upscaler.name} ({engine(upscaler)})"
    single = len(inputs) == 1 and args.output.suffix.lower() in VIDEO_SUFFIXES
    for item in inputs:
        source = Path(item)
        target = args.output if single else args.output / source.name
        if target.exists() and not args.overwrite:
            print(f"skipped {source}: {target} exists (--overwrite redoes it)")
            continue
        try:
            frame_fn = frame_function(upscaler, args)
            if source.is_dir():
                count = upscale_frame_folder(frame_fn, source, target, progress=not args.quiet)
                print(f"upscaled {count} frames {how} -> {target}")
                continue
            options = VideoOptions(args.codec, args.crf, args.pix_fmt)
            summary = upscale_video(frame_fn, upscaler.scale, source, target, options,
                                    not args.quiet)
            note = f" ({summary.note})" if summary.note else ""
            print(f"upscaled {summary.frames} frames {how} at "
                  f"{summary.rate_text()} "
                  f"({summary.codec}, {summary.size[0]}x{summary.size[1]}){note} -> {target}")
        except VividError as error:
            failed.append(str(error))
            log.error("%s", error)
    return failed


def add_eval_video(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval-video", help="video SR metrics (PSNR/SSIM/tOF/warping error) on sequences",
        description="Scores bicubic and each --model on every sequence of --dataset (a folder "
                    "holding one folder of ground-truth frames per sequence, e.g. Vid4/GT): "
                    "image models frame by frame and with each --temporal mode, video models "
                    "through their recurrence. One progress step per frame.",
    )
    parser.add_argument("--model", action="append", default=[],
                        help="a bundled name or weights file (repeatable)")
    parser.add_argument("--temporal", action="append", default=[], choices=TEMPORAL_MODES,
                        help="temporal modes to compare with frame by frame (repeatable)")
    parser.add_argument("--dataset", type=Path, required=True,
                        help="folder of sequence folders of ground-truth frames")
    parser.add_argument("--degradation", choices=("bd", "bicubic"), default="bd")
    add_preroll_option(parser)
    parser.add_argument("--protocol", choices=PROTOCOLS, default="vivid",
                        help="PSNR/SSIM as vivid eval (every frame, Y rounded, shave = scale) "
                             "or as TecoGAN's metrics.py (frames 2..N-3, crop_8x8, Y unrounded)")
    add_evaluation_options(parser)
    parser.set_defaults(handler=_eval_video)


def _eval_video(args: argparse.Namespace) -> int:
    from vivid.evaluation.evaluate import find_niqe_model
    from vivid.video.evaluate import evaluate_video, format_video_table

    report = evaluate_video(args.model, args.dataset, args.temporal or ["flow"], args.scale,
                            args.degradation, args.device, not args.quiet,
                            precision=args.precision,
                            niqe_model=find_niqe_model(args.niqe_model),
                            protocol=args.protocol, preroll=args.preroll)
    print(format_video_table(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2))
        print(f"numbers -> {args.json}")
    return 0

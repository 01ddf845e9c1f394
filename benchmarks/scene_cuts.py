"""Scene-cut rule check: change scores of consecutive frames (no cut) against frames of
different clips (a cut), on LR frames made with BD, as the video models see them.

    python benchmarks/scene_cuts.py        # -> benchmarks/results/scene_cuts.json

Consecutive pairs: every pair in ../shared/data/VideoClips (the training and validation
clips; Vid4 is a test set and is not used). Cut pairs: the last frame of each clip against the
first frame of every other clip. Prints the largest scores of
consecutive pairs, the smallest of cut pairs, and how many of each the rule calls a cut.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

from common import DATA, save
from vivid.degrade import make_pair
from vivid.images.imagefile import read_image
from vivid.inference.scene_cut import change_scores, is_scene_cut
from vivid.training.video_data import sequence_folders
from vivid.video.codec import frame_files


def lr_frames(folder: Path) -> list[torch.Tensor]:
    return [make_pair(read_image(p).rgb, 4, "bd")[0] for p in frame_files(folder)]


def main() -> None:
    folders = sequence_folders([DATA / "VideoClips"])
    clips = {f.name: lr_frames(f) for f in folders}
    consecutive = [(name, *change_scores(a, b), is_scene_cut(a, b))
                   for name, frames in clips.items() for a, b in itertools.pairwise(frames)]
    cuts = [(f"{x}->{y}", *change_scores(clips[x][-1], clips[y][0]),
             is_scene_cut(clips[x][-1], clips[y][0]))
            for x, y in itertools.permutations(clips, 2)]
    result = {
        "consecutive_pairs": len(consecutive),
        "consecutive_called_cut": [c[0] for c in consecutive if c[3]],
        "consecutive_max_thumbnail": max(c[1] for c in consecutive),
        "consecutive_max_histogram": max(c[2] for c in consecutive),
        "cut_pairs": len(cuts),
        "cuts_found": sum(c[3] for c in cuts),
        "missed_cuts": [c[0] for c in cuts if not c[3]],
    }
    for key, value in result.items():
        print(f"{key}: {value if not isinstance(value, list) else len(value)}")
    save("scene_cuts", result)


if __name__ == "__main__":
    main()

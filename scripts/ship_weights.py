"""Copy a finished training run's generator into the package as a bundled model.

python scripts/ship_weights.py runs/srresnet-x4 srresnet-x4
python scripts/ship_weights.py runs/srgan-x4 srgan-x4

Writes src/vivid/weights/NAME.safetensors (fp32, the run's EMA generator) with the run's
metadata plus: the name, the resolved training config, the training wall hours (from
log.jsonl, pauses between sessions left out) and where its family's model card is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vivid.nets.weights_file import load_model, save_generator
from vivid.training.checkpoints import data_name
from vivid.training.runlog import read_records, training_hours

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "vivid" / "weights"
MODEL_CARDS = {"frvsr": "docs/models/video.md", "light": "docs/live.md#the-live-x4-model"}
IMAGE_TERMS = ("research use: trained on data sets that grant no licence (their own terms "
               "apply; see the model card); vivid's code is MIT")
# training data sets (the first part of a folder's checkpoints.data_name) under
# non-commercial terms, and what they bring (their READMEs in ../shared/data)
NON_COMMERCIAL = {
    "VideoClips": "clips under non-commercial terms (CC BY-NC 4.0, S-Lab 1.0) and AGPL-3.0",
    "Domains": "images under non-commercial terms (CC BY-NC 4.0, ImageNet's, CelebA's)",
}


def terms(config: dict) -> str:
    """The use the training data of a run's ``config`` allows (the ``license`` field)."""
    data = config.get("data", {})
    sets = {data_name(folder).split("/")[0]
            for folder in (*data.get("train", ()), *data.get("videos", ()))}
    found = [why for name, why in NON_COMMERCIAL.items() if name in sets]
    if not found:
        return IMAGE_TERMS
    return (f"research use, not commercial: trained on {' and '.join(found)} among others "
            "(see the model card); vivid's code is MIT")


def ship(run: Path, name: str) -> Path:
    generator, metadata = load_model(run / "generator.safetensors")
    config = json.loads((run / "config.json").read_text())
    metadata.update(
        name=name,
        config=config,
        training_hours=round(training_hours(read_records(run / "log.jsonl")), 2),
        model_card=MODEL_CARDS.get(metadata.get("architecture"), "docs/models/image.md"),
        license=terms(config),
    )
    PACKAGE_WEIGHTS.mkdir(parents=True, exist_ok=True)
    target = PACKAGE_WEIGHTS / f"{name}.safetensors"
    save_generator(target, generator, **metadata)  # atomic (vivid.atomic)
    target.chmod(0o644)  # package data: readable by all, whatever the umask
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(f"-> {ship(Path(sys.argv[1]), sys.argv[2])}")

"""What the loop reads for a stage: its training samples (image crops or video sequences)
and its validation set, and how a generator is scored on that set."""

from __future__ import annotations

import torch

from vivid.degrade import make_pair
from vivid.errors import VividError
from vivid.images.imagefile import read_image
from vivid.images.listing import list_images
from vivid.metrics import mean_psnr_ssim
from vivid.training.config import TrainConfig
from vivid.training.config_checks import VIDEO_STAGES
from vivid.training.data import PairedCrops
from vivid.training.flow_pairs import FlowPairs
from vivid.training.steps import StepContext
from vivid.training.video_data import VideoCrops, load_validation_clips

VALIDATION_FLOW_BATCHES = 4  # x 8 pairs


def load_validation(config: TrainConfig) -> list:
    """(name, LR, HR) of the held-out validation images; stage video-flow: batches of flow
    pairs; the other video stages: ``ValidationClip`` sequences."""
    data, scale = config.data, config.model.scale
    if not data.validation:
        return []
    if config.run.stage == "video-flow":  # fixed pairs with known motion from held-out images
        pairs = FlowPairs.from_folders([data.validation], (), scale, data.crop,
                                       data.degradation, only=data.validation_images)
        return [pairs.batch(0, i, 8) for i in range(VALIDATION_FLOW_BATCHES)]
    if config.run.stage in VIDEO_STAGES:
        return load_validation_clips(data.validation, data.validation_videos, scale,
                                     data.degradation)
    names = set(data.validation_images)
    paths = [p for p in list_images(data.validation) if not names or p.name in names]
    return [(p.name, *make_pair(read_image(p).rgb, scale, data.degradation)) for p in paths]


def training_data(config: TrainConfig) -> PairedCrops | VideoCrops | FlowPairs:
    """The stage's training samples: image crops, sequences (video stages) or frame pairs
    with known motion (video-flow)."""
    data, scale = config.data, config.model.scale
    if config.run.stage == "video-flow":
        return FlowPairs.from_folders(data.train, data.validation_images, scale, data.crop,
                                      data.degradation)
    if config.run.stage in VIDEO_STAGES:
        held_out = (*data.validation_videos, *data.validation_images)
        return VideoCrops.from_folders(data.videos, data.train, held_out, scale, data.crop,
                                       data.frames, data.synthetic, data.degradation,
                                       data.context)
    if not data.train:
        raise VividError("data.train: no training folders given")
    return PairedCrops.from_folders(data.train, scale, data.crop, data.validation_images,
                                    data.recursive, data.train_lr, data.degradation,
                                    data.only, data.balance)


def to_device(batch: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """Images go channels_last when asked; sequences (5-D) are laid out frame by frame."""
    if channels_last and batch.ndim == 4:
        return batch.to(device, memory_format=torch.channels_last)
    return batch.to(device)


@torch.no_grad()
def validate(generator: torch.nn.Module, images: list, scale: int, amp: StepContext,
             keep: int = 3) -> tuple[dict[str, float], list]:
    """Mean Y-PSNR / SSIM (shave = scale) on the validation images, and the first ``keep``
    (name, SR, HR) for a look."""
    was_training = generator.training
    generator.eval()
    outputs = []
    for _, lr_image, hr_image in images:
        with amp.autocast():
            sr_image = generator(lr_image.to(amp.device)).float().clamp(0, 1).cpu()
        outputs.append((sr_image, hr_image))
    generator.train(was_training)
    scores = mean_psnr_ssim(outputs, shave=scale)
    samples = [(name, sr, hr) for (name, _, _), (sr, hr)
               in zip(images[:keep], outputs[:keep], strict=True)]
    return {"val_psnr": scores["psnr"], "val_ssim": scores["ssim"]}, samples

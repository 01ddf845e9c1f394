"""VGG19 features for the perceptual (content) loss, truncated after a named layer."""

from __future__ import annotations

import torch
from torch import nn

VGG19_LAYERS = (
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4",
    "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4",
    "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4",
)  # index i is module i of torchvision's vgg19().features
CAFFE_MEAN = (123.68, 116.779, 103.939)  # RGB, on 0-255 input
TORCHVISION_MEAN, TORCHVISION_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """VGG19 truncated after a named layer (e.g. ``relu3_3``), frozen, input RGB in [0, 1].

    ``normalisation`` says what input the weights were trained on: ``caffe`` (0-255 minus the
    ImageNet mean, the Keras/Caffe weights) or ``torchvision`` ([0, 1], mean/std).
    """

    def __init__(self, layer: str, normalisation: str = "caffe") -> None:
        super().__init__()
        if layer not in VGG19_LAYERS:
            raise ValueError(f"unknown VGG19 layer {layer!r}")
        if normalisation not in ("caffe", "torchvision"):
            raise ValueError(f"normalisation must be caffe or torchvision, got {normalisation!r}")
        self.layer, self.normalisation = layer, normalisation
        modules: list[nn.Module] = []
        channels = 3
        for name in VGG19_LAYERS[: VGG19_LAYERS.index(layer) + 1]:
            if name.startswith("conv"):
                width = 64 * 2 ** min(int(name[4]) - 1, 3)
                modules.append(nn.Conv2d(channels, width, 3, padding=1))
                channels = width
            elif name.startswith("relu"):
                modules.append(nn.ReLU(inplace=True))
            else:
                modules.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*modules)
        scale = (255.0, 255.0, 255.0) if normalisation == "caffe" else tuple(
            1 / s for s in TORCHVISION_STD)
        mean = CAFFE_MEAN if normalisation == "caffe" else tuple(
            m / s for m, s in zip(TORCHVISION_MEAN, TORCHVISION_STD, strict=True))
        self.register_buffer("scale", torch.tensor(scale).reshape(1, 3, 1, 1))
        self.register_buffer("shift", torch.tensor(mean).reshape(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.features(image * self.scale - self.shift)

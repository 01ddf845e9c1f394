"""The frame-recurrent video generator (FRVSR, Sajjadi et al. 2018; TecoGAN's generator).

For frame t the motion from LR frame t to LR frame t-1 is estimated (by a small flow network,
FRVSR's FNet, or by OpenCV Farneback: see Motion below); the flow is upsampled to the HR grid,
the previous *output* is warped with it, packed space-to-depth (scale x scale -> 3 * scale^2
channels at LR size) and fed to the super-resolution network beside LR frame t. The first
frame (and the first frame after a scene cut) gets zeros instead of a warped output.

The super-resolution network is vivid's SRResNet without BatchNorm (``srresnet.Generator`` with
``batchnorm=False``; BatchNorm statistics of single frames would drift along a recurrence).
The packed previous output enters through its own 3x3 conv (``state_head``) whose result is
added to the SRResNet head's before its PReLU (a first frame gets the conv of zeros, i.e. its
bias, as TecoGAN feeds zeros). Deviation: ``state_head`` sees the warped output *minus* the
bilinear upsampled current LR frame (packed the same way), i.e. what the previous output adds
to this frame. FRVSR feeds the warped output itself; its mean level (~0.5 in all 48 channels)
makes every weight of a zero-started ``state_head`` move the features like a bias, and Adam's
equal-size first steps on all 432 inputs of each filter then shift them far more than any
detail could gain: trained that way from ``srresnet-x4``, the first ``video-x4`` kept
``state_head`` at ~1e-4 and upscaled every frame as if it were the first
(``benchmarks/video_diagnose.py``). ``state_head`` starts at zero, so a fresh
``RecurrentGenerator.from_srresnet(g)`` computes exactly ``fold_batchnorm(g)`` on every frame
(its first ``blocks`` residual blocks): training starts from a working single-image model and
learns to use the previous frame.

The result of a frame with a previous output is a per-pixel blend: ``w * warped + (1 - w) *
SR``, where ``w`` (in (0, 1), one per HR pixel) comes from a small network (``blend``) on the
packed detail and the LR frame, starting at sigmoid(-1) = 0.27 everywhere. Why: trained from
``srresnet-x4``, the generator barely used its previous output through ``state_head`` alone
(the first ``video-x4`` not at all: ``benchmarks/video_diagnose.py``), as a single-frame
model that is already good gets little gradient towards fusing a second input; the blend
weight gets a direct one wherever the warped previous output is closer to the truth than the
new frame (the idea of the image models' ``--temporal flow`` filter, learned). Why 0.27: a
start at 0.05 stayed there (logit -2.995 after 300 iterations of Farneback-motion training;
the gradient scales with w(1 - w)), and on that model a constant 0.27 lowered tOF on held-out
slow pans from 0.335 to 0.278 at +0.07 dB, for -0.04 dB and +0.010 tOF on held-out real clips
(``benchmarks/blend_sweep.py``); 0.5 costs the clips 0.3 dB. Training then has to learn where
to blend less. Weights without ``blend`` (the first ``video-x4``) run without it.

Motion (``motion``): ``"network"`` is FRVSR's FNet (``FlowNet``, trained); ``"farneback"``
is OpenCV's Farneback flow on the LR frames (``vivid.motion``; no weights, no gradient, run on
the CPU). Why the second exists: the previous ground-truth frame warped with an FNet's motion
is a worse guess of the current frame than the SR output itself on held-out clips and pans,
while with Farneback it is far better (``benchmarks/flow_choice.py``: warp PSNR 35.3 / 43.9 dB
against 32.1 / 30.6 for the FNet of stage ``video-flow``), so a generator can only gain from
its previous output with the latter. Weights without ``flow.*`` tensors load with Farneback.

One deviation from FRVSR/TecoGAN: their network adds its output to the upsampled LR frame
(residual learning); ours does not, because its SR part starts as srresnet-x4, which already
outputs the whole image (``benchmarks/video_init.py`` measures that start against a fresh one).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vivid.motion import frame_flow
from vivid.nets.inference_form import fold_batchnorm
from vivid.nets.srresnet import Generator, GeneratorConfig

MAX_FLOW = 24.0  # FNet's tanh output scale: the largest motion in LR pixels per frame
FLOW_MULTIPLE = 8  # FNet pools three times: inputs are padded to a multiple of 8
BLEND_CHANNELS = 32  # hidden channels of the blend weight network
MOTIONS = ("network", "farneback")  # FNet, trained; or OpenCV Farneback on the LR greys
BLEND_START = -1.0  # its initial logit: sigmoid(-1) = 0.27 of the warped previous output


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` sampled at ``x + flow(x)`` (bilinear, borders replicated), in fp32.

    ``flow`` is N x 2 x H x W in pixels of ``image`` (x then y): where each pixel of the
    current frame was in ``image``.
    """
    height, width = image.shape[-2:]
    ys = torch.arange(height, device=image.device, dtype=torch.float32)
    xs = torch.arange(width, device=image.device, dtype=torch.float32)
    x = xs.view(1, 1, width) + flow[:, 0].float()
    y = ys.view(1, height, 1) + flow[:, 1].float()
    grid = torch.stack((2 * x / max(width - 1, 1) - 1, 2 * y / max(height - 1, 1) - 1), dim=-1)
    return F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border",
                         align_corners=True)


def upscale_flow(flow: torch.Tensor, scale: int) -> torch.Tensor:
    """LR flow to the HR grid: bilinear x ``scale`` and the vectors times ``scale``."""
    return F.interpolate(flow.float(), scale_factor=scale, mode="bilinear",
                         align_corners=False) * scale


def _conv_pair(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.2))


class FlowNet(nn.Module):
    """FRVSR's FNet: (current, previous) LR frames -> flow from current to previous, LR pixels.

    Encoder 3 x (two conv-LReLU + 2x max-pool; 32/64/128 channels), decoder 3 x (two
    conv-LReLU + 2x bilinear upsampling; 256/128/64), conv-LReLU (32), conv to 2, tanh x 24.
    Any size works: the input is padded (replicated) to a multiple of 8 and the flow cropped.

    Initialisation: He (Kaiming) normal for the LeakyReLU convs, zero biases, and a near-zero
    last conv (the flow starts at ~0). PyTorch's default conv init shrinks the signal at each of
    the 15 layers; with it this network barely learned motion in 4000 iterations of video
    training (end-point error 2.77 LR pixels against 3.18 for zero motion,
    ``benchmarks/flow_choice.py``); with He init stage ``video-flow`` reaches 1.86 after 500
    iterations and 0.51 after 6000 (``runs/video-flow/log.jsonl``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.ModuleList([_conv_pair(6, 32), _conv_pair(32, 64), _conv_pair(64, 128)])
        self.decoder = nn.ModuleList(
            [_conv_pair(128, 256), _conv_pair(256, 128), _conv_pair(128, 64)])
        self.out = nn.Sequential(nn.Conv2d(64, 32, 3, padding=1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(32, 2, 3, padding=1))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.out[-1].weight, std=1e-3)

    def forward(self, current: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        height, width = current.shape[-2:]
        pad_h, pad_w = -height % FLOW_MULTIPLE, -width % FLOW_MULTIPLE
        x = F.pad(torch.cat((current, previous), 1), (0, pad_w, 0, pad_h), mode="replicate")
        for stage in self.encoder:
            x = F.max_pool2d(stage(x), 2)
        for stage in self.decoder:
            x = F.interpolate(stage(x), scale_factor=2, mode="bilinear", align_corners=False)
        return torch.tanh(self.out(x)[..., :height, :width].float()) * MAX_FLOW


@dataclass(frozen=True)
class RecurrentState:
    """What the next frame needs: the previous LR frame and the previous output (HR)."""

    lr_frame: torch.Tensor
    sr_frame: torch.Tensor


class RecurrentGenerator(nn.Module):
    """FRVSR-style video generator; see the module docstring.

    ``step(lr_frame, state)`` upscales one batch of frames given the previous state (None for
    a first frame) and returns (output, flow, new state); ``forward(lr_frames)`` runs a whole
    N x T x 3 x h x w batch of sequences and returns the N x T x 3 x H x W outputs and the
    N x (T-1) x 2 x h x w flows. Outputs are not clamped (training needs the gradient); the
    state keeps the output clamped to [0, 1], as the next frame would see a written frame.
    """

    def __init__(self, config: GeneratorConfig | None = None, blend: bool = True,
                 motion: str = "network") -> None:
        super().__init__()
        if motion not in MOTIONS:
            raise ValueError(f"motion {motion!r}: choose one of {', '.join(MOTIONS)}")
        self.config = config or GeneratorConfig(blocks=10)
        scale, channels = self.config.scale, self.config.channels
        self.motion = motion
        # FNet for motion "network"; None for "farneback" (OpenCV, no weights)
        self.flow: FlowNet | None = FlowNet() if motion == "network" else None
        self.sr = Generator(self.config, subpixel_tail=True, batchnorm=False)
        self.state_head = nn.Conv2d(3 * scale * scale, channels, 3, padding=1)
        nn.init.zeros_(self.state_head.weight)
        nn.init.zeros_(self.state_head.bias)
        # per-HR-pixel weight of the warped previous output in the result (see the docstring)
        self.blend: nn.Sequential | None = None
        if blend:
            self.blend = nn.Sequential(
                nn.Conv2d(3 * scale * scale + 3, BLEND_CHANNELS, 3, padding=1), nn.ReLU(),
                nn.Conv2d(BLEND_CHANNELS, scale * scale, 3, padding=1))
            nn.init.zeros_(self.blend[-1].weight)
            nn.init.constant_(self.blend[-1].bias, BLEND_START)

    @property
    def scale(self) -> int:
        return self.config.scale

    @classmethod
    def from_srresnet(cls, generator: Generator, blocks: int, motion: str = "network"
                      ) -> RecurrentGenerator:
        """A video generator whose SR part is ``generator`` folded, cut to ``blocks`` blocks."""
        config = GeneratorConfig(generator.config.scale, blocks, generator.config.channels)
        if blocks > generator.config.blocks:
            raise ValueError(f"cannot take {blocks} blocks from a {generator.config.blocks}-"
                             "block generator")
        video = cls(config, motion=motion)
        folded = fold_batchnorm(generator).state_dict()
        wanted = video.sr.state_dict()
        video.sr.load_state_dict({k: folded[k] for k in wanted}, strict=True)
        return video

    def step(self, lr_frame: torch.Tensor, state: RecurrentState | None
             ) -> tuple[torch.Tensor, torch.Tensor | None, RecurrentState]:
        scale = self.config.scale
        flow, packed = None, None
        if state is not None:
            flow = self.estimate_motion(lr_frame, state.lr_frame)
            warped = warp(state.sr_frame, upscale_flow(flow, scale)).to(lr_frame.dtype)
            packed = F.pixel_unshuffle(warped, scale)
            if lr_frame.is_contiguous(memory_format=torch.channels_last):
                packed = packed.contiguous(memory_format=torch.channels_last)
        sr_frame = self.frame_output(lr_frame, packed)
        # Gradients flow through the state into later frames (back-propagation through time).
        return sr_frame, flow, RecurrentState(lr_frame, sr_frame.float().clamp(0, 1))

    def estimate_motion(self, lr_frame: torch.Tensor, previous_lr: torch.Tensor
                        ) -> torch.Tensor:
        """N x 2 x h x w LR flow from ``lr_frame`` to ``previous_lr`` (FNet or Farneback)."""
        if self.flow is None:
            return frame_flow(lr_frame, previous_lr)
        return self.flow(lr_frame, previous_lr)

    def frame_output(self, lr_frame: torch.Tensor, packed: torch.Tensor | None
                     ) -> torch.Tensor:
        """The output for an LR frame (tile) and its packed warped previous output (None: a
        first frame); not clamped."""
        if packed is None:
            features = self.sr.head(lr_frame)
            bias = self.state_head.bias.to(features.dtype).view(1, -1, 1, 1)
            return self.sr.reconstruct(features + bias)
        scale = self.config.scale
        reference = F.interpolate(lr_frame, scale_factor=scale, mode="bilinear",
                                  align_corners=False)
        detail = packed - F.pixel_unshuffle(reference, scale).to(packed.dtype)
        sr_frame = self.sr.reconstruct(self.sr.head(lr_frame) + self.state_head(detail))
        if self.blend is None:
            return sr_frame
        logits = self.blend(torch.cat((detail, lr_frame.to(detail.dtype)), 1))
        weight = torch.sigmoid(F.pixel_shuffle(logits, scale).float())
        warped = F.pixel_shuffle(packed, scale).float()
        return (weight * warped + (1 - weight) * sr_frame.float()).to(sr_frame.dtype)

    def forward(self, lr_frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs, flows, state = [], [], None
        for index in range(lr_frames.shape[1]):
            frame = lr_frames[:, index].contiguous(memory_format=torch.channels_last)
            sr_frame, flow, state = self.step(frame, state)
            outputs.append(sr_frame)
            if flow is not None:
                flows.append(flow)
        empty = lr_frames.new_zeros(lr_frames.shape[0], 0, 2, *lr_frames.shape[-2:])
        return torch.stack(outputs, 1), (torch.stack(flows, 1) if flows else empty)

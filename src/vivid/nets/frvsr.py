"""The frame-recurrent video generator (FRVSR, Sajjadi et al. 2018; TecoGAN's generator).

For frame t the motion from LR frame t to LR frame t-1 is estimated (``motion``: FRVSR's flow
network ``FlowNet``, trained; or OpenCV's Farneback or DIS flow on the LR frames, no weights,
``vivid.motion``). ``carry`` upsamples it to the HR grid, warps the previous *output* with it
and packs it space-to-depth (scale x scale -> 3 * scale^2 channels at LR size); the SR network
sees it beside LR frame t. The first frame (and the first after a scene cut) has no carried
state. Training (``step``) and inference (``vivid.inference.recurrent``) call the same
``carry`` and ``fuse`` (the part with weights, which the engines run) + ``blend_state``.

The SR network is vivid's SRResNet without BatchNorm (``srresnet.Generator``,
``batchnorm=False``). The carried state enters through its own 3x3 conv (``state_head``,
started at zero) added to the SRResNet head's features; it sees the warped output minus the
upsampled current LR frame (``detail``: what the previous output adds to this frame). The
result is a per-pixel blend ``w * warped + (1 - w) * SR`` with ``w`` from a small network
(``blend``), started at sigmoid(``BLEND_START``) everywhere. A fresh
``RecurrentGenerator.from_srresnet(g)`` computes ``fold_batchnorm(g)`` on a first frame.

Three versions (``version``; weights say which by their shapes):

1. the bundled models up to v5: ``detail`` and the flow placed by PyTorch's bilinear
   ``align_corners=False`` upsampling (LR pixel i at HR 4i + 1.5), bilinear warp, the blend
   seeing only ``detail`` and the LR frame;
2. BD-grid placement (LR pixel i at HR ``scale * i``, where BD keeps its pixel, so a perfect
   state gives a ``detail`` without an edge ridge), bicubic warp of the state (a bilinear one
   blurs the carried detail again every frame), and two reliability inputs for ``state_head``
   and the blend, made on the whole frame by ``carry``: the warped output degraded like the
   input (Gaussian blur sigma 1.5, every ``scale``-th pixel) minus LR frame t (large where the
   warp is wrong: occlusion, bad motion), and where the motion points out of the frame;
3. version 2 plus a hidden state (as RRN's): the SR body's LR features of the previous frame,
   warped at LR by the same motion (bilinear), enter through ``hidden_head`` (a 3x3 conv,
   started at zero, so a version 2 network's weights start it exactly as version 2). The
   engines get the features from ``fuse`` and hand them back through ``carry``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vivid.degrade import BD_SIGMA, gaussian_blur
from vivid.motion import METHODS, frame_flow
from vivid.nets.flownet import FlowNet
from vivid.nets.inference_form import fold_batchnorm
from vivid.nets.srresnet import Generator, GeneratorConfig
from vivid.nets.warping import out_of_frame, upsample, upscale_flow, warp

BLEND_CHANNELS = 32  # hidden channels of the blend weight network
MOTIONS = ("network", *METHODS)  # FNet (trained), or an OpenCV flow on the LR greys
BLEND_START = -1.0  # its initial logit: sigmoid(-1) = 0.27 of the warped previous output
RELIABILITY_CHANNELS = 4  # version 2: degraded warped output minus LR (3), out of frame (1)
VERSIONS = (1, 2, 3)


def blend_state(sr_frame: torch.Tensor, logits: torch.Tensor, carried: torch.Tensor,
                scale: int) -> torch.Tensor:
    """``w * warped + (1 - w) * sr_frame`` per HR pixel, in fp32: ``w`` the sigmoid of the
    blend's ``logits`` (N x scale^2 x h x w), ``warped`` the previous output packed in the
    first 3 scale^2 channels of ``carried``; the result in ``sr_frame``'s dtype."""
    weight = torch.sigmoid(F.pixel_shuffle(logits, scale).float())
    warped = F.pixel_shuffle(carried[:, :3 * scale * scale].float(), scale)
    return (weight * warped + (1 - weight) * sr_frame.float()).to(sr_frame.dtype)


@dataclass(frozen=True)
class RecurrentState:
    """What the next frame needs: the previous LR frame, the previous output (HR) and, for
    version 3, the SR body's LR features of the previous frame."""

    lr_frame: torch.Tensor
    sr_frame: torch.Tensor
    features: torch.Tensor | None = None  # version 3: the SR body's LR features


class RecurrentGenerator(nn.Module):
    """FRVSR-style video generator; see the module docstring.

    ``step(lr_frame, state)`` upscales one batch of frames given the previous state (None for
    a first frame) and returns (output, flow, new state); ``forward(lr_frames)`` runs a whole
    N x T x 3 x h x w batch of sequences and returns the N x T x 3 x H x W outputs and the
    N x (T-1) x 2 x h x w flows. Outputs are not clamped (training needs the gradient); the
    state keeps the output clamped to [0, 1], as the next frame would see a written frame.
    """

    def __init__(self, config: GeneratorConfig | None = None, blend: bool = True,
                 motion: str = "network", version: int = 2) -> None:
        super().__init__()
        if motion not in MOTIONS:
            raise ValueError(f"motion {motion!r}: choose one of {', '.join(MOTIONS)}")
        if version not in VERSIONS:
            raise ValueError(f"version {version!r}: choose one of {VERSIONS}")
        self.config = config or GeneratorConfig(blocks=10)
        scale, channels = self.config.scale, self.config.channels
        self.motion, self.version = motion, version
        # FNet for motion "network"; None for the OpenCV flows (no weights)
        self.flow: FlowNet | None = FlowNet() if motion == "network" else None
        self.sr = Generator(self.config, subpixel_tail=True, batchnorm=False)
        extra = RELIABILITY_CHANNELS if version >= 2 else 0
        self.state_head = nn.Conv2d(3 * scale * scale + extra, channels, 3, padding=1)
        nn.init.zeros_(self.state_head.weight)
        nn.init.zeros_(self.state_head.bias)
        self.hidden_head: nn.Conv2d | None = None
        if version >= 3:
            self.hidden_head = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            nn.init.zeros_(self.hidden_head.weight)
        # per-HR-pixel weight of the warped previous output in the result (see the docstring)
        self.blend: nn.Sequential | None = None
        if blend:
            self.blend = nn.Sequential(
                nn.Conv2d(3 * scale * scale + 3 + extra, BLEND_CHANNELS, 3, padding=1),
                nn.ReLU(), nn.Conv2d(BLEND_CHANNELS, scale * scale, 3, padding=1))
            nn.init.zeros_(self.blend[-1].weight)
            nn.init.constant_(self.blend[-1].bias, BLEND_START)

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def carried_channels(self) -> int:
        """The channels of a full ``carry``: the state_head's input, and version 3's warped
        features after it."""
        hidden = self.config.channels if self.hidden_head is not None else 0
        return self.state_head.in_channels + hidden

    @classmethod
    def from_srresnet(cls, generator: Generator, blocks: int, motion: str = "network",
                      version: int = 2) -> RecurrentGenerator:
        """A video generator whose SR part is ``generator`` folded, cut to ``blocks`` blocks."""
        config = GeneratorConfig(generator.config.scale, blocks, generator.config.channels)
        if blocks > generator.config.blocks:
            raise ValueError(f"cannot take {blocks} blocks from a {generator.config.blocks}-"
                             "block generator")
        video = cls(config, motion=motion, version=version)
        folded = fold_batchnorm(generator).state_dict()
        wanted = video.sr.state_dict()
        video.sr.load_state_dict({k: folded[k] for k in wanted}, strict=True)
        return video

    def recurrence_parameters(self) -> list[nn.Parameter]:
        """The weights that fuse the carried state (``state_head``, the blend, version 3's
        ``hidden_head``)."""
        parts = [self.state_head, *([self.blend] if self.blend is not None else []),
                 *([self.hidden_head] if self.hidden_head is not None else [])]
        return [p for part in parts for p in part.parameters()]

    def step(self, lr_frame: torch.Tensor, state: RecurrentState | None
             ) -> tuple[torch.Tensor, torch.Tensor | None, RecurrentState]:
        flow, carried = None, None
        if state is not None:
            flow = self.estimate_motion(lr_frame, state.lr_frame)
            carried = self.carry(state.sr_frame, flow, lr_frame, state.features)
        sr_frame, features = self.output_and_features(lr_frame, carried)
        # Gradients flow through the state into later frames (back-propagation through time).
        return sr_frame, flow, RecurrentState(lr_frame, sr_frame.float().clamp(0, 1), features)

    def estimate_motion(self, lr_frame: torch.Tensor, previous_lr: torch.Tensor
                        ) -> torch.Tensor:
        """N x 2 x h x w LR flow from ``lr_frame`` to ``previous_lr`` (FNet or OpenCV; the
        OpenCV flows read 8-bit greys of the frames as given)."""
        if self.flow is None:
            return frame_flow(lr_frame.float(), previous_lr.float(), self.motion)
        return self.flow(lr_frame, previous_lr)

    def upscale_flow(self, flow: torch.Tensor) -> torch.Tensor:
        """LR flow on this model's HR grid (the BD grid from version 2)."""
        return upscale_flow(flow, self.scale, bd_grid=self.version >= 2)

    def carry(self, previous_sr: torch.Tensor, flow: torch.Tensor, lr_frame: torch.Tensor,
              features: torch.Tensor | None = None) -> torch.Tensor:
        """The previous output warped onto this frame and packed to LR size (N x 3 scale^2
        x h x w), with the reliability inputs after it from version 2 and (version 3) the
        previous ``features`` warped at LR, fp32. Made on whole frames: ``output_and_features``
        may then run on tiles of it."""
        scale = self.scale
        mode = "bicubic" if self.version >= 2 else "bilinear"
        warped = warp(previous_sr, self.upscale_flow(flow), mode)
        packed = F.pixel_unshuffle(warped, scale)
        if self.version < 2:
            return packed
        degraded = gaussian_blur(warped, BD_SIGMA, stride=scale)  # as BD makes LR
        parts = [packed, degraded - lr_frame.float(), out_of_frame(flow)]
        if self.hidden_head is not None and features is not None:
            parts.append(warp(features, flow))
        return torch.cat(parts, 1)

    def output_and_features(self, lr_frame: torch.Tensor, carried: torch.Tensor | None
                            ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The output for an LR frame (tile) and its ``carry`` (None: a first frame), not
        clamped, and version 3's LR features (else None): ``fuse``, then ``blend_state``.
        The convs run in ``lr_frame``'s dtype, the blend in fp32."""
        sr_frame, logits, features = self.fuse(lr_frame, carried)
        if logits is None or carried is None:
            return sr_frame, features
        return blend_state(sr_frame, logits, carried, self.scale), features

    def fuse(self, lr_frame: torch.Tensor, carried: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The part of the frame's output with weights (what the engines export): the SR
        output, the blend's LR logits (None: a first frame or no blend) and version 3's LR
        features (None before version 3), in ``lr_frame``'s dtype; ``blend_state`` then
        mixes the carried state in, in fp32 on every engine."""
        if carried is None:
            head = self.sr.head(lr_frame)
            features = self.sr.body_features(
                head + self.state_head.bias.to(head.dtype).view(1, -1, 1, 1))
            return self.sr.upscale(features), None, self._hidden(features)
        scale, dtype = self.scale, lr_frame.dtype
        plain = 3 * scale * scale
        reliable = plain + (RELIABILITY_CHANNELS if self.version >= 2 else 0)
        packed, reliability = carried[:, :plain], carried[:, plain:reliable]
        reference = upsample(lr_frame.float(), scale, bd_grid=self.version >= 2)
        detail = torch.cat((packed.float() - F.pixel_unshuffle(reference, scale),
                            reliability.float()), 1).to(dtype)
        if lr_frame.is_contiguous(memory_format=torch.channels_last):
            detail = detail.contiguous(memory_format=torch.channels_last)
        head = self.sr.head(lr_frame) + self.state_head(detail)
        if self.hidden_head is not None and carried.shape[1] > reliable:
            hidden = carried[:, reliable:].to(dtype)
            if lr_frame.is_contiguous(memory_format=torch.channels_last):
                hidden = hidden.contiguous(memory_format=torch.channels_last)
            head = head + self.hidden_head(hidden)
        features = self.sr.body_features(head)
        sr_frame = self.sr.upscale(features)
        logits = None if self.blend is None else self.blend(torch.cat((detail, lr_frame), 1))
        return sr_frame, logits, self._hidden(features)

    def _hidden(self, features: torch.Tensor) -> torch.Tensor | None:
        """``features`` where they are carried to the next frame (version 3), else None."""
        return features if self.hidden_head is not None else None

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

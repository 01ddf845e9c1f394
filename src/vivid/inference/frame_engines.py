"""Engines for the part of a recurrent video model with weights, and the ``auto`` choice.

A frame engine is called on an LR tile and its carried state (``RecurrentGenerator.carry``
cut to the tile; None for a first frame), both float32 on the CPU, and returns the output
tile, float32 on the CPU, not clamped (``RecurrentGenerator.output_and_features``), and for a
version 3 network the SR body's LR features of the tile (float32, a new tensor; else None),
which ``carry`` warps onto the next frame. Motion and ``carry`` (whole frames, no weights)
stay on torch whatever the engine (``recurrent``).

- ``torch``: ``output_and_features`` of the network on its device, weights cast once to the
  precision (autocast would cast every conv weight on every frame: ~15% of a frame's time
  on the CPU in bf16), LR input channels_last, the carried state fp32.
- ``openvino``: two graphs of ``RecurrentGenerator.fuse`` (an fp32 copy) exported
  to ONNX with dynamic batch, height and width (``onnx_runtime.graph_bytes``): first frame
  (``lr_frame`` N x 3 x h x w -> ``sr_frame``) and with state (``lr_frame`` and ``carried``
  N x C x h x w, C = ``carried_channels``: 3 scale^2, + 4 reliability channels from
  version 2, + the features from version 3 -> ``sr_frame``, and the blend's ``logits``
  N x scale^2 x h x w when there is a blend); from version 3 both graphs also output the
  ``features``. Each is converted once and kept as OpenVINO IR in the cache under a SHA-256
  of its tensors and kind (``openvino_runtime.cached_model``) and compiled once per engine
  for all shapes (``CompiledGraph``, bf16 where the CPU has it natively); the first-frame
  graph's working buffers are freed at the first frame with a state. The mix of the
  carried state into the output (``frvsr.blend_state``) runs after the graph, in torch,
  in fp32, as on torch: the carried state is never rounded to bf16 before it is mixed.
  Inside the graph the detail input (packed state minus the upsampled LR tile) is computed
  at OpenVINO's precision, where torch computes it in fp32 and rounds it once.

``auto`` (``resolve_video_runtime``): ``torch`` on a GPU or MPS device or without OpenVINO;
else the choice made for this architecture on this machine as for image models
(``runtimes.measured_choice``: the same cache file and ``MARGIN``), measured once with both
engines on a with-state call of a ``CALIBRATION_SIZE`` square; ``torch``, not cached, when
OpenVINO fails on the model here.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

from vivid.device import CPU, resolve_precision
from vivid.errors import VividError
from vivid.inference import openvino_runtime, runtimes
from vivid.inference.onnx_runtime import graph_bytes
from vivid.inference.openvino_runtime import CompiledGraph, cached_model, check_precision
from vivid.nets.frvsr import RecurrentGenerator, blend_state

VIDEO_RUNTIMES = ("auto", "torch", "openvino")
EXPORT_SIZE = 16  # the example input's side; the graphs take any size
GRAPH_PARTS = ("sr.", "state_head.", "blend.", "hidden_head.")  # what fuse uses
FrameResult = tuple[torch.Tensor, torch.Tensor | None]  # output tile, version 3's features


class FrameEngine(Protocol):
    """LR tile and carried state (None: a first frame) in; output tile and version 3's
    features (else None) out; see above."""

    dtype: torch.dtype

    def __call__(self, lr_tile: torch.Tensor, carried: torch.Tensor | None
                 ) -> FrameResult: ...


class FrameGraph(nn.Module):
    """``fuse`` with tensor outputs, for export: the SR output, then the blend's
    logits (with ``carried``, when the network has a blend), then version 3's features."""

    def __init__(self, network: RecurrentGenerator) -> None:
        super().__init__()
        self.network = network

    def forward(self, lr_frame: torch.Tensor, carried: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, ...]:
        parts = self.network.fuse(lr_frame, carried)
        return tuple(part for part in parts if part is not None)


def frame_onnx(network: RecurrentGenerator, with_state: bool) -> tuple[bytes, int]:
    """The ONNX graph of ``fuse`` (first frame, or ``with_state``) of an fp32 copy of
    ``network``, and its scale."""
    module = FrameGraph(copy.deepcopy(network).to(CPU, torch.float32).eval())
    size = (EXPORT_SIZE, EXPORT_SIZE)
    inputs = {"lr_frame": torch.rand(1, 3, *size)}
    outputs = {"sr_frame": "sr_"}
    if with_state:
        inputs["carried"] = torch.rand(1, network.carried_channels, *size)
        outputs |= {"logits": ""} if network.blend is not None else {}
    outputs |= {"features": ""} if network.hidden_head is not None else {}
    metadata = {"scale": network.scale, "graph": "with state" if with_state else "first frame",
                "frvsr_version": network.version}
    with warnings.catch_warnings():
        # fuse's test of the carried channel count: fixed in the graph (only N, h, w vary)
        warnings.filterwarnings("ignore", "Converting a tensor to a Python boolean",
                                torch.jit.TracerWarning)
        return graph_bytes(module, inputs, outputs, metadata), network.scale


def graph_digest(network: RecurrentGenerator, with_state: bool) -> str:
    """24 hex digits of the SHA-256 of all a ``frame_onnx`` graph is made of: its kind, the
    network's version and scale, and the fp32 tensors ``fuse`` uses."""
    kind = f"fuse version {network.version} x{network.scale} state {with_state}"
    digest = hashlib.sha256(kind.encode())
    for name, tensor in sorted(network.state_dict().items()):
        if name.startswith(GRAPH_PARTS):
            digest.update(name.encode())
            digest.update(tensor.detach().to(CPU, torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


class TorchFrames:
    """``output_and_features`` on torch; casts ``network`` (in place) to ``dtype`` on
    ``device``."""

    def __init__(self, network: RecurrentGenerator, device: torch.device,
                 dtype: torch.dtype) -> None:
        self.network = network.to(device, dtype).eval().requires_grad_(False)
        self.device, self.dtype = device, dtype

    def __call__(self, lr_tile: torch.Tensor, carried: torch.Tensor | None) -> FrameResult:
        with torch.inference_mode():
            state = None if carried is None else carried.to(self.device, torch.float32)
            lr_input = lr_tile.to(self.device, self.dtype, memory_format=torch.channels_last)
            sr_tile, features = self.network.output_and_features(lr_input, state)
            return sr_tile.float().cpu(), None if features is None else features.float().cpu()


class OpenVinoFrames:
    """``fuse`` on OpenVINO (two compiled graphs), then the fp32 mix in torch."""

    def __init__(self, network: RecurrentGenerator, dtype: torch.dtype) -> None:
        check_precision(dtype)  # before an export
        self.scale, self.dtype = network.scale, dtype
        self.graphs: dict[bool, CompiledGraph] = {}  # by with_state
        self.convert_seconds = 0.0
        for with_state in (False, True):
            label = f"the {'with-state' if with_state else 'first-frame'} graph of a video model"
            model, _, seconds = cached_model(graph_digest(network, with_state), label,
                                             lambda state=with_state: frame_onnx(network, state))
            self.graphs[with_state] = CompiledGraph(model, dtype)
            self.convert_seconds += seconds
        self.compile_seconds = sum(graph.compile_seconds for graph in self.graphs.values())
        self.blended = network.blend is not None
        self.hidden = network.hidden_head is not None  # version 3: features are an output
        self.first_frame_buffers = False  # the first-frame graph holds working buffers

    def __call__(self, lr_tile: torch.Tensor, carried: torch.Tensor | None) -> FrameResult:
        if carried is None:
            self.first_frame_buffers = True
            outputs = self.graphs[False].infer((lr_tile,), share_outputs=False)
            return outputs[0], outputs[1] if self.hidden else None
        if self.first_frame_buffers:  # in a video, not needed again until the next scene cut
            self.graphs[False].release_memory()
            self.first_frame_buffers = False
        # With a blend the output is read at once by the mix: the request's own buffers
        # (the features, kept for the next frame, are then copied out of them).
        outputs = self.graphs[True].infer((lr_tile, carried), share_outputs=self.blended)
        features = outputs[-1] if self.hidden else None
        if features is not None and self.blended:
            features = features.clone()
        if not self.blended:
            return outputs[0], features
        return blend_state(outputs[0], outputs[1], carried, self.scale), features

    def release_memory(self) -> None:
        """Free both graphs' working buffers (the next call allocates them again)."""
        for graph in self.graphs.values():
            graph.release_memory()


def load_frame_engine(runtime: str, network: RecurrentGenerator, device: torch.device,
                      dtype: torch.dtype) -> FrameEngine:
    """The ``torch`` or ``openvino`` (CPU only) engine of ``network`` at ``dtype``."""
    if runtime == "torch":
        return TorchFrames(network, device, dtype)
    if runtime != "openvino":
        raise VividError(f"--runtime {runtime}: video models run with "
                         f"{', '.join(VIDEO_RUNTIMES)}")
    if device.type != "cpu":
        raise VividError(f"--runtime openvino runs on the CPU, not on {device}")
    return OpenVinoFrames(network, dtype)


def architecture(network: RecurrentGenerator) -> str:
    """What the speed of ``fuse`` depends on, e.g. 'video x4 10 blocks 64 channels
    version 1 blend' (the key of the cached choice)."""
    config = network.config
    return (f"video x{config.scale} {config.blocks} blocks {config.channels} channels "
            f"version {network.version} {'blend' if network.blend is not None else 'no blend'}")


def _calibrate(network: RecurrentGenerator, precision: str) -> dict[str, float] | None:
    """Both engines' best times on a with-state call; None (warned) when OpenVINO fails."""
    dtype = resolve_precision(precision, CPU)
    side = runtimes.CALIBRATION_SIZE
    lr_tile = torch.rand(1, 3, side, side)
    carried = torch.rand(1, network.carried_channels, side, side)

    def runner(runtime: str) -> Callable[[], object]:
        # a copy for torch: its engine casts the network it is given
        source = copy.deepcopy(network) if runtime == "torch" else network
        engine = load_frame_engine(runtime, source, CPU, dtype)
        return lambda: engine(lr_tile, carried)

    return runtimes.compare_engines(runner, f"the {architecture(network)} model")


def resolve_video_runtime(runtime: str, network: RecurrentGenerator, device: torch.device,
                          precision: str, name: str) -> str:
    """``torch`` or ``openvino`` for ``network`` (called ``name`` in errors); ``precision``:
    ``fp32``, ``bf16`` or ``fp16``. See the module docstring for ``auto``."""
    if runtime not in VIDEO_RUNTIMES:
        raise VividError(f"{name}: a video model runs with --runtime "
                         f"{', '.join(VIDEO_RUNTIMES)}, not {runtime}")
    if runtime != "auto":
        return runtime
    if device.type != "cpu" or not openvino_runtime.openvino_available():
        return "torch"
    return runtimes.measured_choice(architecture(network), precision,
                                    lambda: _calibrate(network, precision))

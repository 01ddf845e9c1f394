"""Each engine called directly, as a user of that engine alone would, for ``vivid bench`` to
measure what vivid adds: the same graph (the engine vivid loaded), the input prepared once
in the engine's own form, nothing of vivid's in the timed call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from vivid.inference.engine import Engine
from vivid.inference.onnx_runtime import OnnxNetwork, onnx_bytes
from vivid.inference.openvino_runtime import OpenVinoNetwork, compile_plain
from vivid.inference.torch_runtime import TorchNetwork


def _torch(engine: TorchNetwork, lr_image: torch.Tensor) -> Callable[[], Any]:
    """The module on the input already on its device, in its precision and layout."""
    prepared = engine.prepare(lr_image)

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return engine.module(prepared)

    return call


def _openvino(engine: OpenVinoNetwork, lr_image: torch.Tensor) -> Callable[[], Any]:
    """The same OpenVINO model compiled with OpenVINO's defaults and the precision."""
    request = compile_plain(engine.model, engine.dtype).create_infer_request()
    pixels = lr_image.numpy()
    return lambda: request.infer({0: pixels})


def _onnx(weights: str, lr_image: torch.Tensor) -> Callable[[], Any]:
    """A fresh ONNX Runtime session with its defaults on the same exported graph."""
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_bytes(weights)[0],
                                           providers=["CPUExecutionProvider"])
    feed = {"lr_image": lr_image.numpy()}
    return lambda: session.run(None, feed)


def raw_call(engine: Engine, weights: str, lr_image: torch.Tensor) -> Callable[[], Any]:
    """A zero-argument call of ``engine``'s runtime on ``lr_image`` (float32, CPU) with the
    graph of ``weights``."""
    if isinstance(engine, TorchNetwork):
        return _torch(engine, lr_image)
    if isinstance(engine, OpenVinoNetwork):
        return _openvino(engine, lr_image)
    if isinstance(engine, OnnxNetwork):
        return _onnx(weights, lr_image)
    raise TypeError(f"no raw call for {type(engine).__name__}")

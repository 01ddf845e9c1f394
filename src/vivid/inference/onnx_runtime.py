"""ONNX export of a generator and inference with ONNX Runtime (``pip install -e ".[onnx]"``).

The exported graph is the fp32 image generator in its inference form (``inference_network``:
BatchNorm folded, the sub-pixel tail; a light generator as it is) with dynamic batch, height
and width; its metadata holds the scale, the source model and the vivid version.
``OnnxNetwork`` runs it with ONNX Runtime's defaults; a call hands the LR tensor's memory to
ONNX Runtime and its output's to torch, with no copy.
"""

from __future__ import annotations

import io as stdio
import warnings
from pathlib import Path

import numpy as np
import torch

from vivid._version import __version__
from vivid.atomic import write_bytes
from vivid.errors import VividError
from vivid.inference.engine import working_bytes
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.inference_form import inference_network
from vivid.nets.weights_file import load_model

OPSET = 17
# Peak memory above the process's own of a call, per LR pixel, x4 64-channel generator
# (VmHWM, 64x64 and 128x128 inputs, onnxruntime 1.32, AMD EPYC): 16 KiB on the first call,
# 30-31 KiB from the second on (its memory arena keeps and extends its buffers); +5%.
PAPER_BYTES_PER_PIXEL = 33_000


def graph_bytes(module: torch.nn.Module, inputs: dict[str, torch.Tensor],
                outputs: dict[str, str], metadata: dict[str, object]) -> bytes:
    """The serialised ONNX graph of ``module`` called on ``inputs`` (name: an example N x C x
    h x w tensor), with dynamic batch, height and width on every input (all the same size)
    and every output (name: the prefix of its size's axis names), and ``metadata`` beside
    the vivid version."""
    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in inputs}
    axes |= {name: {0: "batch", 2: f"{prefix}height", 3: f"{prefix}width"}
             for name, prefix in outputs.items()}
    buffer = stdio.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript-based exporter
        # Known and harmless here (the exported graph matches torch, tests/test_weights_file.py):
        warnings.filterwarnings("ignore", "Constant folding - Only steps=1", UserWarning)
        warnings.filterwarnings("ignore", "Exporting aten::index operator", UserWarning)
        torch.onnx.export(module, tuple(inputs.values()), buffer, input_names=list(inputs),
                          output_names=list(outputs), opset_version=OPSET, dynamo=False,
                          dynamic_axes=axes)
    import onnx

    model = onnx.load_from_string(buffer.getvalue())
    for key, value in {**metadata, "vivid_version": __version__}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    return model.SerializeToString()


def onnx_bytes(name_or_path: str | Path) -> tuple[bytes, int]:
    """The serialised ONNX model of an image model's weights, and its scale."""
    generator, _ = load_model(name_or_path)
    if isinstance(generator, RecurrentGenerator):
        raise VividError(f"{name_or_path}: is a video model; vivid export --onnx and --runtime "
                         "onnx take image models only")
    network = inference_network(generator)  # the faster sub-pixel tail helps ONNX Runtime too
    scale = generator.config.scale
    data = graph_bytes(network, {"lr_image": torch.rand(1, 3, 16, 16)}, {"sr_image": "sr_"},
                       {"scale": scale, "source": str(name_or_path)})
    return data, scale


def export_onnx(name_or_path: str | Path, target: Path) -> int:
    """Write an ONNX file of a model (atomically); returns its scale."""
    data, scale = onnx_bytes(name_or_path)
    write_bytes(target, data)
    return scale


class OnnxNetwork:
    """An ONNX Runtime session called like a network: LR tensor in, SR tensor out (CPU)."""

    dtype = torch.float32

    def __init__(self, name_or_path: str | Path) -> None:
        try:
            import onnxruntime
        except ImportError as error:
            raise VividError('--runtime onnx needs onnxruntime: run pip install -e ".[onnx]" '
                             "in the vivid folder"
                             ) from error
        path = Path(name_or_path)
        if path.suffix == ".onnx":
            try:
                self.session = onnxruntime.InferenceSession(
                    str(path), providers=["CPUExecutionProvider"])
            except Exception as error:  # onnxruntime raises its own untyped errors
                raise VividError(f"{path}: not a readable ONNX model ({error})") from error
            metadata = self.session.get_modelmeta().custom_metadata_map
            if "scale" not in metadata:
                raise VividError(f"{path}: not a vivid ONNX model (no 'scale' metadata)")
            self.scale = int(metadata["scale"])
        else:
            data, self.scale = onnx_bytes(name_or_path)
            self.session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        self.bytes_per_pixel = working_bytes(PAPER_BYTES_PER_PIXEL, self.scale)

    def __call__(self, lr_image: torch.Tensor) -> torch.Tensor:
        feed = {"lr_image": np.ascontiguousarray(lr_image.float().cpu().numpy())}
        return torch.from_numpy(self.session.run(None, feed)[0])

    run_tile = __call__  # every call's output is a new array

    def release_memory(self) -> None:
        """Nothing to do: ONNX Runtime's arena keeps its buffers for the session's life."""

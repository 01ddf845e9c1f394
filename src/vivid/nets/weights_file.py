"""Generator weights: ``.safetensors`` with JSON metadata, plus loading of plain state dicts.

A vivid weights file is a safetensors file whose metadata key ``vivid`` holds a JSON object:
format, architecture, scale, blocks, channels, stage, data, iterations, metrics, and the vivid
version that wrote it. Nothing is ever unpickled: ``.pt``/``.pth`` files are read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vivid._version import __version__
from vivid.atomic import temp_path
from vivid.errors import VividError
from vivid.nets.architectures import AnyGenerator, architecture, describe, empty_network
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.reparam import folded_state
from vivid.nets.vgg import VGG19_LAYERS, VGGFeatures

FORMAT = "vivid-generator"
_WRAPPER_KEYS = ("params_ema", "params", "state_dict")
_PREFIXES = ("module.", "_orig_mod.")


def bundled_models() -> list[str]:
    """Names of the generator weights shipped inside the package."""
    folder = resources.files("vivid") / "weights"
    if not folder.is_dir():
        return []
    return sorted(
        p.name.removesuffix(".safetensors")
        for p in folder.iterdir()
        if p.name.endswith(".safetensors")
    )


def save_generator(path: str | Path, generator: AnyGenerator, **metadata: Any) -> None:
    """Write ``generator``'s weights (fp32) with metadata (stage, data, iterations, metrics...).

    ``architecture`` is ``srresnet`` or ``light`` for image generators, ``frvsr`` for video
    generators (``nets.architectures``); buffers that are not saved (``light``'s fixed
    bicubic weights) stay out; re-parameterized kernels are saved folded (``nets.reparam``).
    """
    config = generator.config
    header = {
        "format": FORMAT,
        "architecture": architecture(generator),
        "scale": config.scale,
        "blocks": config.blocks,
        "channels": config.channels,
        "stage": "unknown",
        "data": "",
        "iterations": 0,
        "metrics": {},
        "vivid_version": __version__,
    }
    if isinstance(generator, RecurrentGenerator):
        header["motion"] = generator.motion
        header["frvsr_version"] = generator.version
    header.update(metadata)
    tensors = {
        k: v.detach().float().contiguous().cpu()
        for k, v in folded_state(generator.state_dict()).items()
        if v.is_floating_point()
    }
    with temp_path(Path(path)) as temp:
        save_file(tensors, str(temp), metadata={"vivid": json.dumps(header)})


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    try:
        with safe_open(str(path), framework="pt") as file:
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
            raw = (file.metadata() or {}).get("vivid")
    except (SafetensorError, OSError, ValueError) as error:
        raise VividError(f"{path}: corrupt or truncated safetensors file ({error})") from error
    try:
        metadata = json.loads(raw) if raw else {}
    except json.JSONDecodeError as error:
        raise VividError(f"{path}: metadata 'vivid' is not valid JSON ({error})") from error
    return tensors, metadata


def _looks_like_torch_file(path: Path) -> bool:
    """A PyTorch file is a zip archive (torch.save since 1.6) or a pickle (protocol 2+)."""
    try:
        with path.open("rb") as file:
            start = file.read(4)
    except OSError as error:
        raise VividError(f"{path}: cannot read ({error.strerror or error})") from error
    return start.startswith(b"PK\x03\x04") or start[:1] == b"\x80"


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    if not _looks_like_torch_file(path):
        raise VividError(f"{path}: not a weights file; give a bundled model name "
                         f"({', '.join(bundled_models())}), 'bicubic', a .safetensors file or "
                         "a PyTorch .pt/.pth state dict")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        zipfile.BadZipFile,
        OSError,
        AttributeError,
    ) as error:
        if "Weights only load failed" in str(error):  # torch then suggests unsafe loading
            raise VividError(f"{path}: holds Python objects besides tensors, which vivid never "
                             "unpickles; give a state dict of tensors (or a checkpoint with "
                             "params_ema/params/state_dict) or a .safetensors file") from error
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise VividError(f"{path}: not a readable PyTorch weights file ({first_line})") from error
    for key in _WRAPPER_KEYS:
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise VividError(f"{path}: not a state dict of tensors (found {type(loaded).__name__})")
    return loaded


def _check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    broken = [key for key, value in state.items()
              if value.is_floating_point() and not torch.isfinite(value).all()]
    if broken:
        raise VividError(f"{path}: {len(broken)} tensors hold NaN or infinite values (e.g. "
                         f"{broken[0]}): weights of a diverged training run, or a damaged file")


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    stripped = {}
    for key, value in state.items():
        for prefix in _PREFIXES:
            key = key.removeprefix(prefix)
        stripped[key] = value
    return stripped


def _check_match(generator: AnyGenerator, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = {k: v for k, v in generator.state_dict().items() if v.is_floating_point()}
    problems = []
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(generator.state_dict()))
    if missing:
        problems.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {', '.join(unexpected[:3])})")
    for key in sorted(set(expected) & set(state)):
        if expected[key].shape != state[key].shape:
            problems.append(
                f"{key} has shape {tuple(state[key].shape)}, expected {tuple(expected[key].shape)}"
            )
            break
    if problems:
        raise VividError(f"{path}: does not match {describe(generator)}: {'; '.join(problems)}")


def resolve_weights(name_or_path: str | Path) -> Path:
    """The file behind a bundled model name or a path, or a clear error."""
    if str(name_or_path) in bundled_models():
        source = resources.files("vivid") / "weights" / f"{name_or_path}.safetensors"
        return Path(str(source))
    path = Path(name_or_path)
    if path.is_file():
        return path
    available = ", ".join(bundled_models()) or "none bundled in this build"
    raise VividError(f"{name_or_path}: no such model file or bundled model (bundled: {available})")


def is_video_model(name_or_path: str | Path) -> bool:
    """Whether the weights are a recurrent video generator's (only the tensor names are read
    from a ``.safetensors`` file)."""
    path = resolve_weights(name_or_path)
    if path.suffix != ".safetensors":
        return "state_head.weight" in _strip_prefixes(_read_torch(path))
    try:
        with safe_open(str(path), framework="pt") as file:
            return "state_head.weight" in file.keys()  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise VividError(f"{path}: corrupt or truncated safetensors file ({error})") from error


def trained_degradation(metadata: dict[str, Any]) -> str | None:
    """The degradation the weights were trained on: ``degradation`` (weights exported from a
    run) or the shipped config's ``data.degradation`` (default bicubic); for a recurrent
    video model without either, bd (the only one it trains on); None: unknown."""
    if "degradation" in metadata:
        return metadata["degradation"]
    config = metadata.get("config")
    if config:
        return config.get("data", {}).get("degradation", "bicubic")
    return "bd" if metadata.get("architecture") == "frvsr" else None


def load_model(name_or_path: str | Path) -> tuple[AnyGenerator, dict[str, Any]]:
    """An eval-mode fp32 generator and its metadata ({} for plain state dicts).

    The network is the one the tensors belong to (``architectures.empty_network``): video
    weights (``architecture: frvsr``) give a ``RecurrentGenerator``, ``light`` ones a
    ``LightGenerator``; metadata that names another architecture or shape is an error."""
    path = resolve_weights(name_or_path)
    if path.suffix == ".safetensors":
        state, metadata = _read_safetensors(path)
    else:
        state, metadata = _read_torch(path), {}
    state = folded_state(_strip_prefixes(state), path)
    generator = empty_network(state, metadata, path)
    named = metadata.get("architecture", architecture(generator))
    if named != architecture(generator):
        raise VividError(f"{path}: metadata says architecture={named} but the tensors are "
                         f"{architecture(generator)}'s")
    config = generator.config
    for key in ("scale", "blocks", "channels"):
        if key in metadata and metadata[key] != getattr(config, key):
            raise VividError(
                f"{path}: metadata says {key}={metadata[key]} but the tensors "
                f"have {key}={getattr(config, key)}"
            )
    _check_match(generator, state, path)
    _check_finite(state, path)
    generator.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return generator.eval(), metadata


def load_generator(name_or_path: str | Path) -> AnyGenerator:
    """An eval-mode fp32 generator from a bundled name, a vivid ``.safetensors`` or a state dict.

    Plain PyTorch files are read with ``torch.load(weights_only=True)``; ``params_ema``,
    ``params`` and ``state_dict`` wrappers are unwrapped, ``module.`` prefixes stripped and
    re-parameterized kernels folded (``nets.reparam``).
    """
    return load_model(name_or_path)[0]


def load_vgg(path: str | Path, layer: str, normalisation: str = "caffe") -> VGGFeatures:
    """VGG19 up to ``layer`` from a state dict in torchvision's layout (``features.N`` or ``N``).

    Asking for a layer deeper than the file provides is a ``VividError``.
    """
    path = Path(path)
    if not path.is_file():
        raise VividError(f"{path}: VGG19 weights file not found")
    state = _read_safetensors(path)[0] if path.suffix == ".safetensors" else _read_torch(path)
    state = {key.removeprefix("features."): value for key, value in _strip_prefixes(state).items()}
    vgg = VGGFeatures(layer, normalisation)
    wanted = vgg.features.state_dict()
    missing = sorted(set(wanted) - set(state), key=lambda k: int(k.split(".")[0]))
    if missing:
        deepest = max((int(k.split(".")[0]) for k in state if k.split(".")[0].isdigit()),
                      default=-1)
        provided = VGG19_LAYERS[deepest + 1] if 0 <= deepest + 1 < len(VGG19_LAYERS) else "none"
        raise VividError(f"{path}: has VGG19 weights up to {provided} only; layer {layer} "
                         f"needs {missing[0]} (supply the full VGG19 weights)")
    try:
        vgg.features.load_state_dict({k: state[k] for k in wanted}, strict=True)
    except RuntimeError as error:
        raise VividError(f"{path}: VGG19 weights do not match "
                         f"({str(error).splitlines()[-1].strip()})") from error
    return vgg

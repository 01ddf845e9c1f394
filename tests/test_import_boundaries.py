"""The layers stay as drawn (README, "Layout"): every import in src/vivid, module level or
inside a function, is read from the source and checked against these rules:

- data flows one way through the layers in ``LAYERS`` (images -> degrade -> nets -> training
  -> inference / video / evaluation -> cli): a module imports its own layer and earlier ones,
  so networks import nothing from training or inference and nothing imports the command line;
- the MOS study app imports neither PyTorch nor vivid's model stack, and only the command line
  imports it.

Adding a forbidden import anywhere makes this test fail, naming the file and the import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Data flows one way (README, "Layout"): a module may import its own layer and those above it.
LAYERS = (
    ("vivid._version", "vivid.errors", "vivid.atomic", "vivid.device"),
    ("vivid.images",),
    ("vivid.degrade", "vivid.metrics", "vivid.motion"),  # make LR, compare images, motion
    ("vivid.nets",),
    ("vivid.training",),
    ("vivid.inference", "vivid.video", "vivid.evaluation"),
    ("vivid.cli", "vivid.__main__"),
)
MOS_MAY_IMPORT = ("vivid.mos", "vivid.errors", "vivid._version", "vivid.atomic")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    names, package = [], _module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1],
                                 *([base] if base else [])])
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return names


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _layer(name: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if _within(name, layer)), None)


def _breaks(module: str, name: str) -> str | None:
    """Why ``module`` may not import ``name``, or None."""
    if _within(module, ("vivid.mos",)):
        if name.split(".")[0] == "torch" or (name.startswith("vivid.")
                                             and not _within(name, MOS_MAY_IMPORT)):
            return "the MOS app stays free of torch and the model stack"
        return None
    if _within(name, ("vivid.cli",)) and not _within(module, LAYERS[-1]):
        return "nothing imports the command line"
    if _within(name, ("vivid.mos",)) and not _within(module, LAYERS[-1]):
        return "only the command line imports the MOS app"
    mine, theirs = _layer(module), _layer(name)
    if mine is not None and theirs is not None and theirs > mine:
        return f"layer {LAYERS[mine][0]} may not import the later layer {LAYERS[theirs][0]}"
    return None


def violations(modules: dict[str, list[str]]) -> list[str]:
    """``module imports name (why)`` for each import that breaks a rule."""
    return [f"{module} imports {name} ({why})" for module, names in modules.items()
            for name in names if (why := _breaks(module, name))]


def _all_modules() -> dict[str, list[str]]:
    return {_module_name(p): _imports(p) for p in sorted((SRC / "vivid").rglob("*.py"))}


def test_the_package_keeps_its_layers() -> None:
    assert violations(_all_modules()) == []


@pytest.mark.parametrize(("module", "name"), [
    ("vivid.mos.web", "torch"), ("vivid.mos.report", "vivid.inference.upscaler"),
    ("vivid.evaluation.evaluate", "vivid.cli.main"),
    ("vivid.nets.frvsr", "vivid.training.video_steps"),
    ("vivid.nets.srresnet", "vivid.inference.tiling"), ("vivid.images.imagefile", "vivid.nets"),
    ("vivid.images.imagefile", "vivid.degrade"), ("vivid.training.loop", "vivid.video.codec")])
def test_a_forbidden_import_is_caught(module: str, name: str) -> None:
    modules = _all_modules()
    modules[module] = [*modules[module], name]
    assert any(v.startswith(f"{module} imports {name}") for v in violations(modules))


def test_importing_the_mos_app_does_not_load_torch() -> None:
    code = "import sys, vivid.mos.web, vivid.mos.report; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"

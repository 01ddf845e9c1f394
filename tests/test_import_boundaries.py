"""The layers stay as drawn (README, "Layout"): every import in src/vivid, module level or
inside a function, is read from the source and checked against these rules:

- the MOS study app imports neither PyTorch nor vivid's model stack;
- nothing imports the command line (``cli`` modules) but the command line itself;
- networks import nothing from training or inference.

Adding a forbidden import anywhere makes this test fail, naming the file and the import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

CLI = ("vivid.cli", "vivid.video_cli", "vivid.mos_cli")
MOS_MAY_IMPORT = ("vivid.mos", "vivid.errors", "vivid._version", "vivid.atomic")
NETS = ("vivid.nets", "vivid.models")
NOT_FOR_NETS = ("vivid.training", "vivid.train", "vivid.runner", "vivid.inference",
                "vivid.upscale", "vivid.tiling")


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
    return any(name == p or name.startswith(p + ".") or name.startswith(p + "_")
               for p in prefixes)


def violations(modules: dict[str, list[str]]) -> list[str]:
    """``module imports name`` for each import that breaks a rule."""
    found = []
    for module, names in modules.items():
        for name in names:
            mos = _within(module, ("vivid.mos",)) and not _within(module, CLI)
            if mos and (name.split(".")[0] == "torch" or (
                    name.startswith("vivid.") and not _within(name, MOS_MAY_IMPORT))):
                found.append(f"{module} imports {name} (the MOS app stays free of torch)")
            if _within(name, CLI) and not _within(module, CLI) and module != "vivid.__main__":
                found.append(f"{module} imports {name} (nothing imports the command line)")
            if _within(module, NETS) and _within(name, NOT_FOR_NETS):
                found.append(f"{module} imports {name} (networks know nothing of training "
                             "or inference)")
    return found


def _all_modules() -> dict[str, list[str]]:
    return {_module_name(p): _imports(p) for p in sorted((SRC / "vivid").rglob("*.py"))}


def test_the_package_keeps_its_layers() -> None:
    assert violations(_all_modules()) == []


@pytest.mark.parametrize(("module", "name"), [
    ("vivid.mos_web", "torch"), ("vivid.mos_report", "vivid.upscale"),
    ("vivid.evaluate", "vivid.cli"), ("vivid.nets.frvsr", "vivid.training.video_steps")])
def test_a_forbidden_import_is_caught(module: str, name: str) -> None:
    modules = _all_modules()
    modules[module] = [*modules[module], name]
    assert any(v.startswith(f"{module} imports {name}") for v in violations(modules))


def test_importing_the_mos_app_does_not_load_torch() -> None:
    code = "import sys, vivid.mos_web, vivid.mos_report; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"

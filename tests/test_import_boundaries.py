"""The layers stay as drawn (README, "Layout"): every import in src/vivid, module level or
inside a function, is read from the source and checked against these rules:

- data flows one way through the layers in ``LAYERS`` (images -> degrade -> nets -> training
  -> inference / video / evaluation / live -> cli): a module imports its own layer and earlier ones,
  so networks import nothing from training or inference and nothing imports the command line;
- the MOS study app imports neither PyTorch nor vivid's model stack, and only the command line
  imports it (and ``vivid.live`` its serving modules, ``MOS_SERVING``);
- no import circle: following the imports that run (module level or inside a function, as a
  deferred import only hides a circle; ``if TYPE_CHECKING:`` blocks never run), no module
  reaches itself;
- no module of the package, the benchmarks or the scripts is over ``MAX_LINES`` lines.

Adding a forbidden import anywhere makes this test fail, naming the file and the import; a
circle is named module by module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
MAX_LINES = 300

# Data flows one way (README, "Layout"): a module may import its own layer and those above it.
LAYERS = (
    ("vivid._version", "vivid.errors", "vivid.atomic", "vivid.device"),
    ("vivid.images",),
    ("vivid.degrade", "vivid.metrics", "vivid.motion"),  # make LR, compare images, motion
    ("vivid.nets",),
    ("vivid.training",),
    ("vivid.inference", "vivid.video", "vivid.evaluation", "vivid.live"),
    ("vivid.cli", "vivid.__main__"),
)
MOS_MAY_IMPORT = ("vivid.mos", "vivid.errors", "vivid._version", "vivid.atomic")
MOS_SERVING = ("vivid.mos.security", "vivid.mos.server")  # the live page serves the same way


def _module_name(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root).with_suffix("").parts
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
    if _within(name, ("vivid.mos",)) and not _within(module, LAYERS[-1]) and not (
            _within(module, ("vivid.live",)) and _within(name, MOS_SERVING)):
        return "only the command line imports the MOS app (vivid.live: its serving modules)"
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


def _runtime_imports(path: Path, known: set[str], root: Path = SRC) -> set[str]:
    """The package's modules that ``path`` imports when its code runs: ``from a import b``
    counts as ``a.b`` when that is a module, else as ``a``; ``TYPE_CHECKING`` blocks are
    skipped."""
    def nodes(body: list[ast.stmt]) -> list[ast.stmt]:
        found = []
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                found += nodes(node.orelse)
                continue
            found.append(node)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    found += nodes([child])
                elif isinstance(child, ast.ExceptHandler):
                    found += nodes(child.body)
        return found

    tree = ast.parse(path.read_text())
    imported = set()
    for node in nodes(tree.body):
        if isinstance(node, ast.Import | ast.ImportFrom):
            single = ast.Module(body=[node], type_ignores=[])
            for name in _names(single, _module_name(path, root), path.name == "__init__.py"):
                imported.add(name if name in known else name.rsplit(".", 1)[0])
    return {name for name in imported if name in known and name != _module_name(path, root)}


def _names(tree: ast.Module, module: str, is_package: bool) -> list[str]:
    """Absolute ``a.b`` names of ``from a import b`` / ``import a.b`` statements in ``tree``."""
    names, package = [], module if is_package else module.rsplit(".", 1)[0]
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[:len(parts) - node.level + 1], *([base] if base else [])])
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports when it runs."""
    paths = {_module_name(p): p for p in sorted((SRC / "vivid").rglob("*.py"))}
    return {name: _runtime_imports(path, set(paths)) for name, path in paths.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for name in sorted(graph.get(module, ())):
            if state.get(name) == "open":
                return [*path[path.index(name):], name]
            if name not in state and (circle := visit(name, [*path, name])):
                return circle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (circle := visit(module, [module])):
            return circle
    return None


def long_modules(paths: list[Path], limit: int = MAX_LINES, root: Path = REPO) -> list[str]:
    """``path: N lines`` for each file over ``limit`` lines."""
    return [f"{p.relative_to(root)}: {n} lines" for p in paths
            if (n := len(p.read_text().splitlines())) > limit]


def test_no_import_circle() -> None:
    circle = find_circle(import_graph())
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_an_import_circle_is_caught() -> None:
    graph = import_graph()
    graph["vivid.images.png16"] = {*graph["vivid.images.png16"], "vivid.images.imagefile"}
    assert find_circle(graph) is not None
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_a_deferred_import_counts_and_type_checking_does_not(tmp_path: Path) -> None:
    known = {"vivid.images.pixels", "vivid.nets.srresnet", "vivid.degrade"}
    code = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import vivid.degrade\n"
            "def f():\n    from vivid.nets import srresnet\n")
    fake = tmp_path / "src" / "vivid" / "images" / "pixels.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(code)
    assert _runtime_imports(fake, known, tmp_path / "src") == {"vivid.nets.srresnet"}


def test_no_module_is_over_the_line_limit() -> None:
    paths = [*sorted((SRC / "vivid").rglob("*.py")), *sorted((REPO / "benchmarks").glob("*.py")),
             *sorted((REPO / "scripts").glob("*.py"))]
    assert long_modules(paths) == []


def test_a_long_module_is_caught(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text("x = 1\n" * (MAX_LINES + 1))
    assert long_modules([long], root=tmp_path) == [f"long.py: {MAX_LINES + 1} lines"]
    assert long_modules([long], MAX_LINES + 1, tmp_path) == []


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

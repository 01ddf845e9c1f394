"""The README and the docs keep their promises (issue 32): the README is short, its examples
that need no shared data run as written (exit 0), its test command is CI's, install hints
agree everywhere, local links resolve, and every benchmark script is named next to the number
it makes."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from vivid.cli.main import main

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").rglob("*.md")), REPO / "examples" / "README.md"]
TEST_COMMAND = 'pip install torch==2.13.0 -e ".[test]" && pytest -q'
HELPERS = {"common.py", "mos_harness.py"}  # imported by scripts and tests; make no number
# digits that are not a measurement: dates, commits, file names, core counts, model names
NOT_A_NUMBER = re.compile(r"\d{4}-\d\d-\d\d|commit \w+|\S+\.(py|json|png|gif|toml|md)\b|"
                          r"\d+-core|[\w-]*x4\b")
VIDEO = re.compile(r"\.(mp4|mkv|mov|webm)\b|--temporal|--compare")


def _code_blocks(text: str, language: str = "bash") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def readme_examples() -> list[str]:
    """Every ``vivid`` command of the README's shell blocks that needs no shared data, as
    written (the part after ``&&`` when a line installs first)."""
    commands = []
    for block in _code_blocks(README.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0] == "vivid" and "../shared/data" not in part:
                    commands.append(shlex.join(words))
    return commands


def test_the_readme_is_short() -> None:
    assert len(README.read_text()) <= 12_000


def test_the_readme_test_command_is_what_ci_runs() -> None:
    assert TEST_COMMAND in README.read_text()
    assert TEST_COMMAND in (REPO / ".ci" / "run").read_text().splitlines()


def test_the_readme_states_no_test_count_that_goes_stale() -> None:
    assert not re.search(r"\d+ (passed|tests)\b", README.read_text())


def test_the_quick_start_and_the_sample_clip_are_among_the_examples() -> None:
    examples = readme_examples()
    assert examples[0] == "vivid upscale examples/astronaut.png"
    assert any("examples/clip.mp4" in command for command in examples)
    assert not any(re.search(r"\bclip\.mp4", c) and "examples/clip.mp4" not in c
                   for c in examples)  # every video command runs on the shipped clip


@pytest.mark.parametrize("command", readme_examples())
def test_a_readme_example_runs_as_written(command: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if VIDEO.search(command):
        pytest.importorskip("av", reason="video examples need the 'video' extra")
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    try:
        code = main(shlex.split(command)[1:])
    except SystemExit as done:  # --help
        code = done.code
    assert code == 0


def _pip_hints() -> list[tuple[str, str]]:
    """(where, command) for every ``pip install`` in the docs and the package's messages."""
    found = []
    sources = [*DOCS, *sorted((REPO / "src" / "vivid").rglob("*.py"))]
    for path in sources:
        text = re.sub(r"\s*\n\s*", " ", path.read_text())  # hints wrapped over lines
        for match in re.finditer(r"pip install[^`')]*", text):
            found.append((str(path.relative_to(REPO)), match.group(0).strip()))
    return found


def test_install_hints_agree() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    form = re.compile(r'pip install (torch==[\d.]+ )?-e (\.|"\.\[(?P<extra>[a-z]+)\]")')
    hints = _pip_hints()
    assert hints
    for where, command in hints:
        match = form.match(command)
        assert match, f"{where}: '{command}' is not of the form pip install -e \".[extra]\""
        assert match["extra"] in (None, *extras), f"{where}: no extra {match['extra']}"


def test_local_links_resolve() -> None:
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if not re.match(r"[a-z]+:", target):
                assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def _paragraphs() -> list[str]:
    return [p for path in DOCS for p in re.split(r"\n\s*\n", path.read_text())]


def test_every_benchmark_script_is_named_next_to_its_number() -> None:
    paragraphs = _paragraphs()
    for script in sorted((REPO / "benchmarks").glob("*.py")):
        if script.name in HELPERS:
            continue
        name = f"benchmarks/{script.name}"
        near = [" ".join(paragraphs[i:i + 2]) for i, p in enumerate(paragraphs) if name in p]
        assert near, f"{name} is named in no doc"
        assert any("![" in text or re.search(r"\d", NOT_A_NUMBER.sub("", text))
                   for text in near), \
            f"{name}: no number or figure next to it"


def test_every_result_file_is_cited() -> None:
    text = "\n".join(path.read_text() for path in DOCS)
    for result in sorted((REPO / "benchmarks" / "results").glob("*.json")):
        assert f"benchmarks/results/{result.name}" in text, f"{result.name} is cited nowhere"

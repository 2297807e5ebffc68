"""The README's and the docs' code runs as written.

Every ```python block of README.md, docs/*.md and benchmarks/README.md is run on
its own, in a fresh namespace, in a temporary working directory and under a time
limit. A block that cannot run here says why in an HTML comment on the line
before its opening fence::

    <!-- skip-test: needs CUDA -->

"needs CUDA" skips it only where torch sees no GPU; any other reason skips it
always, so keep those for code that truly cannot run (a fragment of a larger
computation). A block that imports torch is skipped where torch is not installed.

Shell commands (```bash blocks, and inline spans that start with ``skwvq``,
``python``, ``pip`` or ``bash``) are not run, since they install or benchmark;
they are checked for what is cheap to check: ``skwvq`` arguments parse with the
real parser, scripts exist and define the options used, ``pip install`` names
extras that pyproject.toml defines. .ci/run runs the README's first command on a
fresh install.
"""

from __future__ import annotations

import re
import shlex
import signal
import threading
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "benchmarks" / "README.md",
]
TIME_LIMIT_S = 120  # per block; the slowest takes ~35 s on 2 cores
SHELL_PREFIXES = ("skwvq ", "python ", "pip ", "bash ")

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SKIP_MARK = re.compile(r"<!--\s*skip-test:\s*(.*?)\s*-->")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
IMPORTS_TORCH = re.compile(r"^\s*(import torch\b|from torch\b)", re.MULTILINE)


class Block(NamedTuple):
    path: Path
    line: int  # line of the opening fence, 1-based
    language: str
    code: str
    skip_reason: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        mark = SKIP_MARK.fullmatch(before.strip())
        blocks.append(
            Block(
                path=path,
                line=text.count("\n", 0, match.start()) + 1,
                language=match.group(1),
                code=match.group(2),
                skip_reason=mark.group(1) if mark else None,
            )
        )
    return blocks


BLOCKS = [block for path in DOC_FILES for block in _blocks(path)]
PYTHON_BLOCKS = [block for block in BLOCKS if block.language == "python"]


def _shell_commands() -> list[tuple[str, str]]:
    """(where, command) of every bash-block line and shell-like inline span."""
    commands = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for block in _blocks(path):
            if block.language not in ("bash", "sh", "shell", "console"):
                continue
            for offset, line in enumerate(block.code.splitlines(), start=1):
                words = shlex.split(line, comments=True)
                # `a && b`: each side is a command of its own.
                while words:
                    end = words.index("&&") if "&&" in words else len(words)
                    commands.append(
                        (f"{block.where}+{offset}", shlex.join(words[:end]))
                    )
                    words = words[end + 1 :]
        prose = FENCE.sub(lambda match: "\n" * match.group(0).count("\n"), text)
        for match in INLINE_CODE.finditer(prose):
            span = match.group(1).strip()
            if span.startswith(SHELL_PREFIXES):
                line = prose.count("\n", 0, match.start()) + 1
                commands.append((f"{path.relative_to(ROOT)}:{line}", span))
    return commands


SHELL_COMMANDS = _shell_commands()


# ------------------------------------------------------------ python blocks --
def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


class _TimeLimit:
    """SIGALRM-based limit where it can be set (the main thread of a POSIX process)."""

    def __init__(self, seconds: int, where: str):
        self.seconds, self.where = seconds, where
        self.active = hasattr(signal, "SIGALRM") and (
            threading.current_thread() is threading.main_thread()
        )

    def _expire(self, signum, frame):
        raise TimeoutError(f"{self.where} ran past {self.seconds} s")

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.alarm(self.seconds)
        return self

    def __exit__(self, *exc_info):
        if self.active:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self.previous)


def test_the_docs_have_python_blocks_to_run():
    assert len(PYTHON_BLOCKS) >= 5, [block.where for block in PYTHON_BLOCKS]
    assert any(block.path.name == "README.md" for block in PYTHON_BLOCKS)


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda block: block.where)
def test_python_block_runs_as_written(block, tmp_path, monkeypatch):
    if block.skip_reason is not None:
        if block.skip_reason.lower() != "needs cuda":
            pytest.skip(block.skip_reason)
        pytest.importorskip("torch")
        if not _cuda_available():
            pytest.skip("needs CUDA")
    if IMPORTS_TORCH.search(block.code):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Padding with blank lines makes tracebacks name the Markdown file's lines.
    source = "\n" * block.line + block.code
    code = compile(source, str(block.path), "exec")
    with _TimeLimit(TIME_LIMIT_S, block.where):
        exec(code, {"__name__": "__main__"})


# ----------------------------------------------------------- shell commands --
def _pyproject() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _check_skwvq(args: list[str]) -> None:
    from skwvq.cli import _build_parser

    scripts = _pyproject()["project"]["scripts"]
    assert scripts.get("skwvq") == "skwvq.cli:main", scripts
    try:
        _build_parser().parse_args(args)
    except SystemExit as exc:  # --help exits 0, a bad option 2
        assert exc.code == 0, f"`skwvq {shlex.join(args)}` does not parse"


def _check_script(path: str, args: list[str]) -> None:
    script = ROOT / path
    assert script.is_file(), f"{path} does not exist"
    if script.suffix != ".py":
        return
    source = script.read_text(encoding="utf-8")
    if "add_output_options" in source:  # the options every benchmark shares
        source += (ROOT / "benchmarks" / "_common.py").read_text(encoding="utf-8")
    for option in (arg.split("=")[0] for arg in args if arg.startswith("--")):
        assert f'"{option}"' in source, f"{path} defines no option {option}"


def _check_pip_install(args: list[str]) -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    for arg in args:
        if arg.startswith("-"):
            continue
        project = re.fullmatch(r"(\.|skwvq)(?:\[([\w,-]+)\])?", arg)
        if project and project.group(2):
            for extra in project.group(2).split(","):
                assert extra in extras, f"pyproject.toml has no extra [{extra}]"


def _check_pytest(args: list[str]) -> None:
    if "-n" in args or any(arg.startswith("-n") and arg[2:].isdigit() for arg in args):
        test_extra = _pyproject()["project"]["optional-dependencies"]["test"]
        assert any(req.startswith("pytest-xdist") for req in test_extra), test_extra


def _check_sphinx(args: list[str]) -> None:
    docs_extra = _pyproject()["project"]["optional-dependencies"]["docs"]
    assert any(req.startswith("sphinx>") for req in docs_extra), docs_extra
    source = [arg for arg in args if not arg.startswith("-") and arg != "html"][0]
    assert (ROOT / source / "conf.py").is_file(), f"{source}/conf.py does not exist"


def test_the_docs_have_shell_commands_to_check():
    commands = [command for _, command in SHELL_COMMANDS]
    assert "pip install ." in commands and "skwvq compare" in commands, commands


@pytest.mark.parametrize(
    "command",
    [command for _, command in SHELL_COMMANDS],
    ids=[f"{where} {command}" for where, command in SHELL_COMMANDS],
)
def test_shell_command_matches_the_code(command):
    program, *args = shlex.split(command)
    if program == "skwvq":
        _check_skwvq(args)
    elif program == "python" and args[:2] == ["-m", "skwvq"]:
        assert (ROOT / "skwvq" / "__main__.py").is_file()
        _check_skwvq(args[2:])
    elif program == "python" and args[:2] == ["-m", "pytest"]:
        _check_pytest(args[2:])
    elif program == "python" and args[:2] == ["-m", "sphinx"]:
        _check_sphinx(args[2:])
    elif program in ("python", "bash") and args:
        _check_script(args[0], args[1:])
    elif program == "pip" and args[:1] == ["install"]:
        _check_pip_install(args[1:])
    else:
        pytest.fail(f"no check for `{command}`: add one to {Path(__file__).name}")


def test_skip_marks_sit_right_before_a_block():
    """A mark anywhere else would silently stop skipping after an edit."""
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        marks = {text.count("\n", 0, m.start()) + 1 for m in SKIP_MARK.finditer(text)}
        marked = {
            block.line for block in _blocks(path) if block.skip_reason is not None
        }
        lines = text.splitlines()
        for line in marks:
            following = next(
                (n for n in range(line + 1, len(lines) + 1) if lines[n - 1].strip()),
                None,
            )
            assert following in marked, f"{path.name}:{line}: mark not before a block"


# ------------------------------------------------------------ API reference --
def _api_reference_names() -> set[str]:
    """Fully qualified names in docs/api.rst's autosummary lists."""
    names, module, in_list = set(), None, False
    for line in (ROOT / "docs" / "api.rst").read_text(encoding="utf-8").splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::")[1].strip()
        elif line.startswith(".. autosummary::"):
            in_list = True
        elif in_list and re.fullmatch(r"   [A-Za-z_][\w.]*", line):
            names.add(f"{module}.{line.strip()}")
        elif in_list and line and not line.startswith("   "):
            in_list = False
    return names


@pytest.mark.parametrize(
    "module",
    ["skwvq", "skwvq.metrics", "skwvq.plotting", "skwvq.datasets", "skwvq.cli"],
)
def test_the_api_reference_lists_every_public_name(module):
    imported = pytest.importorskip(module)
    listed = _api_reference_names()
    # skwvq re-exports the metric functions; either place documents them.
    missing = [
        name
        for name in imported.__all__
        if f"{module}.{name}" not in listed and f"skwvq.{name}" not in listed
    ]
    assert not missing, f"docs/api.rst does not list {module}.{missing}"


def test_the_api_reference_lists_the_layer_and_the_alignments():
    listed = _api_reference_names()
    import skwvq.alignment

    classes = [
        f"skwvq.alignment.{name}"
        for name in skwvq.alignment.__all__
        if isinstance(getattr(skwvq.alignment, name), type)
    ]
    layer = ["skwvq.nn.WassersteinQuantizer", "skwvq.nn.gaussian_w2_loss"]
    assert not set(classes + layer) - listed, set(classes + layer) - listed

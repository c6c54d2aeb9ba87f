"""Runs a README block in its workspace: shell lines one by one with `prep` on PATH, Python in a
subprocess, and compares the output a block shows with what the command printed.

Shell lines: `prep ...` runs (in the test's process) and must exit 0; `ls DIR` is compared as a listing (`name/` for folders,
sorted); `cp`, `mv`, `rm` and `mkdir` run as they are, and `cat A >> B` appends A to B; `pip install ...` and `make TARGET` are checked, not run (the extras exist in pyproject.toml, the
target in the Makefile): the test environment is already installed. In a block marked `dataflow`, a job
(`images`, `text`, `vocab`, `schema infer`) naming a `gs://` path runs as a Dataflow dry run with settings
Beam accepts offline. A block written as a transcript (`$ command` lines followed by what it printed)
must print each shown line, in order, among its own; `...` in a shown line stands for anything.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from tests.conftest import DATAFLOW_FLAGS
from tests.docs.blocks import REPO, Block
from tests.docs.workspaces import MAKERS

JOBS = ("images", "text", "vocab")
FILE_COMMANDS = ("cp", "mv", "rm", "mkdir")  # what a user does to SRC between runs: run as they are, in the workspace
TIMEOUT = 600  # seconds for one command


class BlockFailed(AssertionError):
    """A README block did not do what it shows: names the block, the command and what it printed."""


@dataclass
class Command:
    argv: list[str]
    line: str
    expected: list[str] = field(default_factory=list)  # the output a transcript shows


def commands(text: str) -> list[Command]:
    """The block's commands: backslash-continued lines joined, `#` comments dropped."""
    joined: list[str] = []
    for raw in text.splitlines():
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1] + " " + raw.strip()
        else:
            joined.append(raw)
    transcript = any(line.startswith("$ ") for line in joined)
    found: list[Command] = []
    for line in joined:
        if transcript and not line.startswith("$ "):
            if found and line.strip():
                found[-1].expected.append(line.strip())
            continue
        line = line[2:] if transcript else line
        argv = shlex.split(line, comments=True)
        if argv:
            found.append(Command(argv, line.strip()))
    return found


def shown_line_pattern(shown: str) -> re.Pattern:
    """A shown line as a pattern: runs of spaces match any, `...` anything."""
    return re.compile(r"\s+".join(".*?".join(map(re.escape, word.split("..."))) for word in shown.split()))


def assert_shows(expected: list[str], printed: str, where: str) -> None:
    """Each shown line matches one printed line (whole, spaces loose), in order."""
    lines = [line.strip() for line in printed.splitlines()]
    at = 0
    for shown in expected:
        pattern = shown_line_pattern(shown)
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            raise BlockFailed(f"{where}: the README shows\n    {shown}\nbut the command printed\n{printed}")
        at += 1


def dry_run(argv: list[str]) -> list[str]:
    """A job naming gs:// as a Dataflow dry run: the flags it lacks, before any `--` (Beam's own flags)."""
    is_job = argv[1:2] and (argv[1] in JOBS or argv[1:3] == ["schema", "infer"])
    if not (is_job and any(a.startswith("gs://") for a in argv)):
        return argv
    cut = argv.index("--") if "--" in argv else len(argv)
    extra = ["--dry-run"]
    if "--runner" not in argv[:cut]:
        extra += DATAFLOW_FLAGS
    return argv[:cut] + extra + argv[cut:]


def listing(folder: Path) -> str:
    return "  ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()))


def check_pip(argv: list[str], where: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for spec in (a for a in argv[2:] if not a.startswith("-")):
        name, _, extras = spec.partition("[")
        if name not in (".", project["name"]):
            raise BlockFailed(f"{where}: `{' '.join(argv)}` installs {name!r}, not {project['name']!r}")
        unknown = {e.strip() for e in extras.rstrip("]").split(",") if e.strip()} - set(project["optional-dependencies"])
        if unknown:
            raise BlockFailed(f"{where}: pyproject.toml has no extra {sorted(unknown)}")


def check_make(argv: list[str], where: str) -> None:
    targets = set(re.findall(r"^([\w.-]+):", (REPO / "Makefile").read_text(), re.M))
    missing = [t for t in argv[1:] if t not in targets]
    if missing:
        raise BlockFailed(f"{where}: the Makefile has no target {missing}")


class Session:
    """The workspaces and the results of the blocks run so far, shared by a test session, so a block
    that starts from another's output (`needs=`) reuses it and a failure is reported once, where it is."""

    def __init__(self, base: Path, blocks: list[Block]):
        self.base = base
        self.blocks = {b.name: b for b in blocks}
        self.folders: dict[str, Path] = {}
        self.results: dict[str, BaseException | None] = {}
        self.env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))

    def folder(self, workspace: str) -> Path:
        if workspace not in self.folders:
            path = self.base / workspace.replace(":", "-")
            path.mkdir()
            steps = MAKERS[workspace.partition(":")[0]](path) or []
            for step in steps:
                if callable(step):
                    step()
                else:
                    self.prep(step, path, f"making workspace {workspace}")
            self.folders[workspace] = path
        return self.folders[workspace]

    def prep(self, args: list[str], cwd: Path, where: str) -> str:
        """`prep ARGS` in this process (Beam and TensorFlow are imported once, not per command: most of
        a small job's CPU), in cwd, its stdout and stderr together as a terminal shows them."""
        from prep.cli.main import main

        printed, here = io.StringIO(), os.getcwd()
        try:
            os.chdir(cwd)
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                code = main(list(args))
        except SystemExit as e:
            code = e.code
        finally:
            os.chdir(here)
        if code != 0:
            raise BlockFailed(f"{where}: `prep {shlex.join(args)}` exited {code} (expected 0):\n{printed.getvalue()[-4000:]}")
        return printed.getvalue()

    def run(self, argv: list[str], cwd: Path, where: str, expect: int = 0) -> str:
        done = subprocess.run(argv, cwd=cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=TIMEOUT)
        printed = done.stdout
        if done.returncode != expect:
            raise BlockFailed(f"{where}: `{shlex.join(argv)}` exited {done.returncode} (expected {expect}):\n{printed[-4000:]}")
        return printed

    def ensure(self, name: str, **python) -> None:
        """Runs the named block once (and what it needs first); raises its failure, now and later."""
        if name not in self.results:
            block = self.blocks[name]
            for need in block.needs:
                try:
                    self.ensure(need)
                except BlockFailed as e:
                    raise BlockFailed(f"{block.where} ({name}) needs block {need!r}, which failed:\n{e}") from None
            try:
                self.run_block(block, **python)
                self.results[name] = None
            except BaseException as e:
                self.results[name] = e
        if self.results[name] is not None:
            raise self.results[name]

    def run_block(self, block: Block, prelude: str = "", epilogue: str = "", drop: tuple[str, ...] = (),
                  replace: dict[str, str] | None = None) -> None:
        cwd = self.folder(block.workspace)
        where = f"{block.where} ({block.name})"
        for line in drop:
            if line not in block.text:
                raise BlockFailed(f"{where}: the test drops a line the block no longer has: {line!r}")
        if block.check:
            self.run_check(block, cwd, where)
            return
        if block.lang == "python":
            self.run_python(block, cwd, where, prelude, epilogue, drop, replace or {})
            return
        for command in commands(block.text):
            if any(line in command.line for line in drop):
                continue
            argv = command.argv
            if argv[0] == "prep":
                if "dataflow" in block.flags:
                    argv = dry_run(argv)
                printed = self.prep(argv[1:], cwd, where)
            elif argv[0] == "ls" and len(argv) == 2:
                printed = listing(cwd / argv[1])
            elif argv[:2] == ["pip", "install"]:
                check_pip(argv, where)
                continue
            elif argv[0] == "make":
                check_make(argv, where)
                continue
            elif argv[0] in FILE_COMMANDS:
                printed = self.run(argv, cwd, where)
            elif argv[0] == "cat" and len(argv) == 4 and argv[2] == ">>":  # lines appended to a file
                with open(cwd / argv[3], "ab") as f:
                    f.write((cwd / argv[1]).read_bytes())
                printed = ""
            else:
                raise BlockFailed(f"{where}: the harness does not run `{command.line}`: teach it, or mark the block")
            assert_shows(command.expected, printed, f"{where}: `{command.line}`")

    def run_check(self, block: Block, cwd: Path, where: str) -> None:
        kind, _, dataset = block.check.partition(":")
        CHECKS[kind](block.text, cwd / dataset, where)

    def run_python(self, block: Block, cwd: Path, where: str, prelude: str, epilogue: str,
                   drop: tuple[str, ...], replace: dict[str, str]) -> None:
        code = block.text
        for line in drop:
            code = "\n".join(kept for kept in code.splitlines() if line not in kept) + "\n"
        for old, new in replace.items():
            if old not in block.text:
                raise BlockFailed(f"{where}: the test replaces text the block no longer has: {old!r}")
            code = code.replace(old, new)
        script = cwd / f"readme_{block.name.replace('-', '_')}.py"
        script.write_text(f"{prelude}\n# --- the block, {block.where} ---\n{code}\n# --- checks ---\n{epilogue}\n")
        self.run([sys.executable, script.name], cwd, where)


def check_layout(text: str, dataset: Path, where: str) -> None:
    """A directory tree drawn as `  NAME   what it holds` lines: each NAME is in the dataset, except what
    is there only `while` a run lasts, which a finished dataset no longer has."""
    for line in text.splitlines():
        entry = re.match(r"^  (\S+)\s+(.*)$", line)
        if not entry:
            continue
        name, what = entry.groups()
        exists = (dataset / name).exists()
        if what.startswith("while") == exists:
            state = "has" if exists else "has no"
            raise BlockFailed(f"{where}: the README draws {name} ({what[:40]}...), but {dataset.name} {state} {name}")


def check_stats_keys(text: str, dataset: Path, where: str) -> None:
    """A stats.json excerpt: every key it shows is a key of the dataset's stats.json."""
    import json

    def keys(value) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    missing = set(re.findall(r'"(\w+)":', text)) - keys(json.loads((dataset / "stats.json").read_text()))
    if missing:
        raise BlockFailed(f"{where}: the README shows stats.json keys {sorted(missing)} that {dataset} lacks")


CHECKS = {"layout": check_layout, "stats-keys": check_stats_keys}

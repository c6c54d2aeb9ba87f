"""The fenced code blocks of the README and docs/*.md, with the `<!-- test: ... -->` marker that says how
each one is tested.

A marker is an HTML comment on the line just before a block (GitHub does not render it):

    <!-- test: in=images name=flowers -->                  shell lines run in the `images` workspace
    <!-- test: in=images needs=flowers,coco -->            ... after the blocks named flowers and coco ran
    <!-- test: in=images dataflow -->                      job lines naming gs:// run as a Dataflow dry run
    <!-- test: in=images needs=flowers check=layout -->    not a command: a checker compares it with a dataset
    <!-- test: skip (why this block cannot run here) -->

A block's name defaults to its section's heading as a slug, with `-2`, `-3`... for later blocks of the
same section, so a failing test says which example broke.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+)(?P<lang>[\w-]*)\s*$")
HEADING = re.compile(r"^#{1,6} +(.*)$")
MARKER = re.compile(r"^\s*<!--\s*test:(?P<body>.*?)-->\s*$")
SKIP = re.compile(r"^skip\s*\((?P<reason>.+)\)$")
FLAGS = {"dataflow"}
KEYS = {"in", "name", "needs", "check"}


class MarkerError(ValueError):
    """A marker that does not parse: names the file, line and what is wrong."""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, what it holds and how its marker says to test it."""

    file: str  # relative to the repository
    line: int  # 1-based line of the opening fence
    section: str  # the heading above it
    lang: str  # "python", or "" for shell
    text: str  # the block's lines, dedented
    marked: bool  # has a marker at all
    name: str = ""
    workspace: str = ""
    needs: tuple[str, ...] = ()
    check: str = ""
    flags: frozenset[str] = field(default_factory=frozenset)
    skip: str = ""  # the reason, for a block that is not run

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def slug(heading: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")
    return words or "top"


def parse_marker(body: str, where: str) -> dict:
    body = body.strip()
    skip = SKIP.match(body)
    if skip:
        return {"skip": skip.group("reason").strip()}
    if body.startswith("skip"):
        raise MarkerError(f"{where}: a skip marker needs a reason: <!-- test: skip (why) -->")
    fields: dict = {"flags": set()}
    for word in body.split():
        key, eq, value = word.partition("=")
        if not eq:
            if word not in FLAGS:
                raise MarkerError(f"{where}: unknown marker word {word!r} (flags: {sorted(FLAGS)})")
            fields["flags"].add(word)
        elif key not in KEYS or not value:
            raise MarkerError(f"{where}: unknown marker key {word!r} (keys: {sorted(KEYS)})")
        else:
            fields[key] = value
    if "in" not in fields:
        raise MarkerError(f"{where}: the marker names no workspace (in=NAME) and is not a skip")
    return fields


def blocks_of(path: Path) -> list[Block]:
    """Every fenced block of one Markdown file, in order."""
    rel = str(path.relative_to(REPO))
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    section, per_section = "top", {}
    i = 0
    while i < len(lines):
        heading = HEADING.match(lines[i])
        if heading:
            section = heading.group(1).strip()
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening.group("indent")), opening.group("fence")
        end = i + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        if end == len(lines):
            raise MarkerError(f"{rel}:{i + 1}: a fenced block that is never closed")
        # a block indented under a list item loses that indent; a line indented less loses what it has
        body = "\n".join(line[indent:] if line[:indent].isspace() or not indent else line.lstrip()
                         for line in lines[i + 1:end])
        marker = MARKER.match(lines[i - 1]) if i else None
        fields = parse_marker(marker.group("body"), f"{rel}:{i}") if marker else {}
        base = slug(section)
        per_section[base] = per_section.get(base, 0) + 1
        default_name = base if per_section[base] == 1 else f"{base}-{per_section[base]}"
        found.append(Block(
            file=rel, line=i + 1, section=section, lang=opening.group("lang"), text=body + "\n",
            marked=marker is not None, name=fields.get("name", default_name), workspace=fields.get("in", ""),
            needs=tuple(n for n in fields.get("needs", "").split(",") if n), check=fields.get("check", ""),
            flags=frozenset(fields.get("flags", ())), skip=fields.get("skip", ""),
        ))
        i = end + 1
    return found


def documents() -> list[Path]:
    """The Markdown files whose blocks are tested: the README, then docs/ by name."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in blocks_of(path)]

"""Vocabulary files: plain UTF-8, one entry per line, as Keras' StringLookup and TextVectorization read them."""

from __future__ import annotations

from prep.core import launcher_reads


def parse_vocabulary(text: str, source: str) -> tuple[str, ...]:
    """The entries of a vocabulary file's text; an empty line or a repeated entry is an error naming it."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line:
            raise ValueError(f"{source}: line {number} is empty (Keras refuses vocabularies with empty lines)")
        if line in seen:
            raise ValueError(f"{source}: line {number} repeats {line!r}")
        seen.add(line)
    if not seen:
        raise ValueError(f"{source}: the file is empty")
    return tuple(line.rstrip("\r") for line in lines)


def read_file(path: str, on_launcher: bool = False) -> bytes:
    """A vocabulary or tokenizer file's bytes, read through Beam's FileSystems (local or gs://);
    `on_launcher`: a file a flag names, read by the launching machine before the job
    (prep.core.launcher_reads: fast, one line)."""
    from apache_beam.io.filesystems import FileSystems

    if on_launcher:
        return launcher_reads.read_bytes(path)
    try:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            return f.read()
    except Exception as e:  # FileSystems wraps every I/O failure in its own exception types
        raise ValueError(f"{path}: cannot read it ({e})") from None


def read_vocabulary(path: str, on_launcher: bool = False) -> tuple[str, ...]:
    """Reads a vocabulary file (`read_file`)."""
    data = read_file(path, on_launcher)
    try:
        return parse_vocabulary(data.decode("utf-8"), path)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None


def vocabulary_bytes(entries: tuple[str, ...] | list[str]) -> bytes:
    return "".join(e + "\n" for e in entries).encode("utf-8")


def counts_file(tokens_file: str) -> str:
    """The token counts file written beside the tokens file `tokens_file` (a path or a dataset's relative
    name): its name with .counts.tsv for .txt (`<count>\t<token>` lines, most frequent first)."""
    stem = tokens_file[:-len(".txt")] if tokens_file.endswith(".txt") else tokens_file
    return stem + ".counts.tsv"

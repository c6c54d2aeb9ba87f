"""`prep verify`'s check of a text dataset's KerasHub tokenizer files."""

from __future__ import annotations

from prep.core.file_findings import Finding
from prep.text.tokenizer import read_token_vocabulary
from schemas import DatasetSchema


def tokenizer_findings(root: str, schema: DatasetSchema) -> list[Finding]:
    """A KerasHub tokenizer's own files in the dataset (a SentencePiece model; a byte-pair vocabulary and
    merges): each there, and building the tokenizer whose pieces the tokens file lists (one finding
    per file; none for other datasets)."""
    from apache_beam.io.filesystems import FileSystems

    files = schema.text.tokenizer_files if schema.text is not None else ()
    if not files:
        return []
    missing = [file for file in files if not FileSystems.exists(FileSystems.join(root, file))]
    if missing:
        return [Finding(file, None, "missing tokenizer file: readers and updates build the tokenizer from it")
                for file in missing]
    tokens = next((v for v in schema.vocabularies if v.kind == "tokens"), None)
    try:
        vocabulary = read_token_vocabulary(tuple(FileSystems.join(root, file) for file in files), schema.text)
    except ValueError as e:
        return [Finding(files[0], None, f"does not build the tokenizer: {e}")]
    if tokens is not None and len(vocabulary.tokens) != tokens.size:
        return [Finding(files[0], len(vocabulary.tokens), f"makes a tokenizer of {len(vocabulary.tokens)} pieces, but "
                                                          f"{tokens.file} lists {tokens.size}", unit="pieces")]
    others = []  # a byte-pair tokenizer's merges: sound since the tokenizer built; their lines
    for file in files[1:]:
        with FileSystems.open(FileSystems.join(root, file), compression_type="uncompressed") as f:
            others.append(Finding(file, f.read().count(b"\n"), unit="lines"))
    return [Finding(files[0], len(vocabulary.tokens), unit="pieces"), *others]

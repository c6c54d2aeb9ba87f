"""The dataset schema: what every feature of a record is, where the shards are, how to read them.

Writers (the Beam jobs, `prep schema infer`) build a `DatasetSchema`; readers, `prep inspect` and
`prep verify` only read it. The classes are frozen: a schema is a fact about a finished dataset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1

DTYPES = ("int64", "float32", "string")
COMPRESSIONS = ("none", "gzip", "zlib")
KINDS = ("images", "text", "records")

# What the values of a feature mean, so readers know what to do with them.
ENCODINGS = (
    "image",      # encoded image bytes (JPEG, PNG, GIF, BMP): decode with tf.io.decode_image
    "segmentation_mask",  # a PNG of class ids, one channel, its image's size; its vocabulary names the ids
    "instance_mask",  # a PNG of 0 and 1 per object (1: the object's pixels), one channel, its image's size
    "class_id",   # int64 class id; line i of the feature's vocabulary names id i
    "token_ids",  # int64 token ids from the feature's vocabulary (reserved ids first)
    "text",       # UTF-8 text
    "bytes",      # opaque bytes
    "number",     # plain int64 / float32 values
)
VOCABULARY_KINDS = ("labels", "tokens")


class SchemaError(ValueError):
    """A schema that cannot be used, with a message that names the field and what to do."""


@dataclass(frozen=True)
class ImageInfo:
    """How the bytes of an image feature decode: `format` is "jpeg", "png", "gif", "bmp" or "mixed";
    `channels` is what `tf.io.decode_image(channels=...)` must be asked for; height and width (pixels)
    are set only when every image has that size (e.g. after --resize)."""

    format: str
    channels: int
    height: int | None = None
    width: int | None = None


@dataclass(frozen=True)
class Feature:
    """One key of the `tf.train.Example` records.

    `shape` is the fixed shape of the values (`[]` for a scalar) or None for a variable number of values
    per record. `default` is used for records where the key is absent (only for fixed shapes; None means
    the key is required). `presence` is the fraction of records that have the key and `value_count` the
    (min, max) number of values per record, when known.
    """

    name: str
    dtype: str
    shape: tuple[int, ...] | None = ()
    encoding: str = "number"
    description: str = ""
    vocabulary: str | None = None
    image: ImageInfo | None = None
    default: Any = None
    presence: float | None = None
    value_count: tuple[int, int] | None = None
    max_length: int | None = None
    # what each value of a fixed-shape feature is, in order (the columns of regression targets)
    value_names: tuple[str, ...] | None = None
    # features with one value per object of a record share a group ("objects": a detection dataset's boxes)
    group: str | None = None
    # a segmentation mask's value for pixels of no class (255: Pascal VOC's, the Model Garden's ignore_label)
    ignore_value: int | None = None

    @property
    def is_variable_length(self) -> bool:
        return self.shape is None


@dataclass(frozen=True)
class Shard:
    """One TFRecord file of a split: `file` is relative to the dataset directory; counts may be unknown
    (None) for schemas inferred from a sample of foreign files. `index` is the file of its record index
    (prep.records.tfrecord_io.index_text: DALI's format), relative to the dataset directory, when one
    was written (uncompressed shards written by prep)."""

    file: str
    num_records: int | None = None
    num_bytes: int | None = None
    index: str | None = None


@dataclass(frozen=True)
class Split:
    name: str
    shards: tuple[Shard, ...]
    num_records: int | None = None

    @property
    def num_bytes(self) -> int | None:
        sizes = [s.num_bytes for s in self.shards]
        return None if any(s is None for s in sizes) else sum(sizes)


@dataclass(frozen=True)
class Vocabulary:
    """A vocabulary file: plain UTF-8, one entry per line, readable as it is by Keras `StringLookup`
    and `TextVectorization(vocabulary=...)`. Line i is id `i + first_id`; `reserved` maps the ids below
    `first_id` to what they mean (Keras: 0 = padding "", 1 = out-of-vocabulary "[UNK]")."""

    name: str
    file: str
    kind: str
    size: int
    first_id: int = 0
    reserved: tuple[tuple[int, str], ...] = ()
    # the splits whose documents a learned vocabulary was counted from (None: not learned from the
    # dataset's documents, e.g. given as a file, or a list of labels)
    learned_from: tuple[str, ...] | None = None
    # the id that pads when it is a line of the file (a KerasHub tokenizer's [PAD] or <pad>), not reserved
    padding_id: int | None = None

    @property
    def pad_id(self) -> int | None:
        """The id sequences are padded with: the reserved "" (Keras), else `padding_id`, else None."""
        return next((i for i, token in self.reserved if token == ""), self.padding_id)

    @property
    def oov_id(self) -> int | None:
        return next((i for i, token in self.reserved if token == "[UNK]"), None)


TOKENIZERS = ("text_vectorization", "wordpiece", "sentencepiece", "bpe")


@dataclass(frozen=True)
class WordPieceSettings:
    """`keras_hub.tokenizers.WordPieceTokenizer`'s options, under its names and with its defaults."""

    lowercase: bool = False
    strip_accents: bool = False
    split_on_cjk: bool = True
    suffix_indicator: str = "##"
    oov_token: str = "[UNK]"


@dataclass(frozen=True)
class SentencePieceSettings:
    """`keras_hub.tokenizers.SentencePieceTokenizer`'s options, under its names and with its defaults;
    `proto` is the model file, copied into the dataset (relative to its directory)."""

    proto: str = "vocab/vocabulary.spm"  # the name KerasHub gives it among a tokenizer's assets
    add_bos: bool = False
    add_eos: bool = False


@dataclass(frozen=True)
class BytePairSettings:
    """`keras_hub.tokenizers.BytePairTokenizer`'s options, under its names and with its defaults;
    `vocabulary` and `merges` are its files, copied into the dataset (relative to its directory)."""

    vocabulary: str = "vocab/vocabulary.json"  # the names KerasHub gives them among a tokenizer's assets
    merges: str = "vocab/merges.txt"
    add_prefix_space: bool = False
    unsplittable_tokens: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "unsplittable_tokens", tuple(self.unsplittable_tokens))


@dataclass(frozen=True)
class TextSettings:
    """How text became token ids: `TextVectorization`'s standardize, split and ngrams (tokenizer
    "text_vectorization"), or one of KerasHub's tokenizers with the options in the field of its name:
    WordPieceTokenizer (`wordpiece`), SentencePieceTokenizer (`sentencepiece`), BytePairTokenizer
    (`bpe`); the TextVectorization fields are then None."""

    standardize: str | None = "lower_and_strip_punctuation"
    split: str | None = "whitespace"
    ngrams: int | None = None
    max_tokens: int | None = None
    min_count: int = 1
    max_length: int | None = None
    tokenizer: str = "text_vectorization"
    wordpiece: WordPieceSettings | None = None
    sentencepiece: SentencePieceSettings | None = None
    bpe: BytePairSettings | None = None

    def __post_init__(self):
        for name, kind in (("wordpiece", WordPieceSettings), ("sentencepiece", SentencePieceSettings),
                           ("bpe", BytePairSettings)):
            if isinstance(getattr(self, name), dict):  # as dataclasses.asdict wrote it (provenance options)
                object.__setattr__(self, name, kind(**getattr(self, name)))

    def described(self) -> str:
        """The settings in a few words, for a person (prep inspect)."""
        if self.tokenizer == "wordpiece":
            w = self.wordpiece
            options = [name for name in ("lowercase", "strip_accents") if getattr(w, name)]
            options += [] if w.split_on_cjk else ["CJK kept in words"]
            out = "KerasHub WordPiece" + (f" ({', '.join(options)})" if options else "")
        elif self.tokenizer == "sentencepiece":
            options = [name for name in ("add_bos", "add_eos") if getattr(self.sentencepiece, name)]
            out = "KerasHub SentencePiece" + (f" ({', '.join(options)})" if options else "")
        elif self.tokenizer == "bpe":
            b = self.bpe
            options = ["add_prefix_space"] if b.add_prefix_space else []
            options += [f"unsplittable {', '.join(b.unsplittable_tokens)}"] if b.unsplittable_tokens else []
            out = "KerasHub byte-pair" + (f" ({'; '.join(options)})" if options else "")
        else:
            out = f"standardize {self.standardize or 'none'}, split {self.split}"
            out += f", {self.ngrams}-grams" if self.ngrams and self.ngrams > 1 else ""
        return out + (f", max length {self.max_length:,} ids" if self.max_length else "")

    @property
    def tokenizer_files(self) -> tuple[str, ...]:
        """The files in the dataset a KerasHub tokenizer is built from, besides the tokens file."""
        if self.tokenizer == "sentencepiece":
            return (self.sentencepiece.proto,)
        if self.tokenizer == "bpe":
            return (self.bpe.vocabulary, self.bpe.merges)
        return ()

    def vocabulary_described(self, size: int) -> str:
        """A tokens vocabulary of `size` lines, for a person."""
        if self.tokenizer == "wordpiece":
            return f"{size:,} WordPiece tokens"
        if self.tokenizer == "sentencepiece":
            return f"{size:,} SentencePiece pieces"
        if self.tokenizer == "bpe":
            return f"{size:,} byte-pair tokens"
        return f"{size:,} tokens + 2 reserved ids"


@dataclass(frozen=True)
class Provenance:
    tool: str
    version: str
    created: str
    source: str
    command: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSchema:
    """Everything a reader needs to know about a dataset directory."""

    name: str
    kind: str
    features: tuple[Feature, ...]
    splits: tuple[Split, ...]
    compression: str = "none"
    label_key: str | None = None
    vocabularies: tuple[Vocabulary, ...] = ()
    text: TextSettings | None = None
    provenance: Provenance | None = None
    format_version: int = FORMAT_VERSION
    # which version of a dataset that grows this is (`prep images --update` makes the next one); the
    # versions before it stay readable (schemas.versions)
    version: int = 1

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise SchemaError(
            f"no feature {name!r} in this dataset (it has: {', '.join(f.name for f in self.features)})"
        )

    def split(self, name: str) -> Split:
        for s in self.splits:
            if s.name == name:
                return s
        raise SchemaError(
            f"no split {name!r} in this dataset (it has: {', '.join(s.name for s in self.splits)})"
        )

    def vocabulary(self, name: str) -> Vocabulary:
        for v in self.vocabularies:
            if v.name == name:
                return v
        raise SchemaError(f"no vocabulary {name!r} in this dataset")

    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.splits)

    @property
    def num_records(self) -> int | None:
        counts = [s.num_records for s in self.splits]
        return None if any(c is None for c in counts) else sum(counts)

    def replace(self, **changes: Any) -> "DatasetSchema":
        return dataclasses.replace(self, **changes)

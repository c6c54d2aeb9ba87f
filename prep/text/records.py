"""The record of one document: its feature keys, its `tf.train.Example` bytes, its schema features.

Keys follow TensorFlow Datasets as the image records do: `text` holds the raw UTF-8 text (what
`tfds.features.Text` stores), `label` the class id; what derives from or describes the text sits
under its namespace. The token ids go to `text/token_ids`: a key of their own (a reader wants the
text, the ids or both), named after the schema's `token_ids` encoding, under `text/` because they
are the text, encoded. `text/filename` and `text/line` say where the document came from, as
`image/filename` does for an image.
"""

from __future__ import annotations

from prep.records.example_codec import encode_example
from prep.text.inputs import Row
from schemas import Feature, TextSettings

TEXT_KEY = "text"
TOKEN_IDS_KEY = "text/token_ids"
FILENAME_KEY = "text/filename"
LINE_KEY = "text/line"
LABEL_KEY = "label"
LABEL_NAME_KEY = "label/name"
TOKENS_VOCABULARY = "tokens"
LABELS_VOCABULARY = "labels"


def text_example(row: Row, ids: list[int], label: int | None, raw_text: bool) -> bytes:
    """The serialised `tf.train.Example` of one document; `label` None for unlabelled data."""
    features = {
        TOKEN_IDS_KEY: ("int64", ids),
        FILENAME_KEY: ("string", [row.source]),
        LINE_KEY: ("int64", [row.line]),
    }
    if raw_text:
        features[TEXT_KEY] = ("string", [row.text])
    if label is not None:
        features[LABEL_KEY] = ("int64", [label])
        features[LABEL_NAME_KEY] = ("string", [row.label])
    return encode_example(features)


def text_features(settings: TextSettings, raw_text: bool, labelled: bool,
                  token_counts: tuple[int, int] | None = None) -> tuple[Feature, ...]:
    """The schema's features; `token_counts` is the (min, max) number of ids per record, when known."""
    features = []
    if raw_text:
        features.append(Feature(TEXT_KEY, "string", (), "text", "the document, UTF-8"))
    truncated = f", truncated to {settings.max_length}" if settings.max_length else ""
    if settings.tokenizer == "wordpiece":
        ids = (f"WordPiece ids of the document (keras_hub.tokenizers.WordPieceTokenizer's output, unpadded{truncated}): "
               f"line i of vocab/tokens.txt is id i; {settings.wordpiece.oov_token} is out-of-vocabulary")
    elif settings.tokenizer == "bpe":
        ids = (f"byte-pair ids of the document (keras_hub.tokenizers.BytePairTokenizer's output, unpadded{truncated}): "
               f"line i of vocab/tokens.txt is the token of id i in {settings.bpe.vocabulary}")
    elif settings.tokenizer == "sentencepiece":
        ids = (f"SentencePiece ids of the document (keras_hub.tokenizers.SentencePieceTokenizer's output, "
               f"unpadded{truncated}): line i of vocab/tokens.txt is piece i of {settings.sentencepiece.proto}")
    else:
        ids = (f"token ids of the document (TextVectorization's output, unpadded{truncated}): "
               "line i of vocab/tokens.txt is id i + 2; 0 is padding, 1 out-of-vocabulary")
    features += [
        Feature(TOKEN_IDS_KEY, "int64", None, "token_ids", ids,
                vocabulary=TOKENS_VOCABULARY, value_count=token_counts, max_length=settings.max_length),
        Feature(FILENAME_KEY, "string", (), "text", "source file, relative to SRC"),
        Feature(LINE_KEY, "int64", (), "number", "line of the source file the document starts on (0: the whole file)"),
    ]
    if labelled:
        features += [
            Feature(LABEL_KEY, "int64", (), "class_id", "class id: line i of vocab/labels.txt names id i",
                    vocabulary=LABELS_VOCABULARY),
            Feature(LABEL_NAME_KEY, "string", (), "text", "class name"),
        ]
    return tuple(features)

"""Keras' TextVectorization as the reference the text tests compare prep with, and a corpus that
exercises it: punctuation, mixed case, non-ASCII letters and spaces, digits, frequency ties."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CORPUS = [
    "The cat sat on the mat. THE CAT! the Cat?",
    "Ünïcödé ÉCOLE école École — «quoted» text… ¿Qué? 42 apples, 7 pears; 42!",
    "dog Dog DOG dog's (dogs) [dog] {dog} <dog> dog.dog dog-dog",
    "Straße STRASSE ΣΊΣΥΦΟΣ σίσυφος İstanbul istanbul ǅemal",
    "tie1 tie2 tie3 zeta alpha beta gamma",
    "tabs\tand\nnewlines\r\nand\x0bvertical\x0cfeeds  double  spaces",
    "ｆｕｌｌｗｉｄｔｈ Ａ　ideographic space non\u00a0breaking line\u2028separator next\x85line\x1cfs",
    "emoji 🙂🙂 mixed🙂 family 👩\u200d👩\u200d👧 e\u0301 combining",
    "[UNK] [unk] '' \"\" [UNK]",
    "under_score hy-phen e-mail@example.com http://x.y/z?q=1&r=2#frag",
    "digits 0123 ٣٤ ①② 3.14 3,14 1st 2nd",
    "NUL\x00inside to\x00kens",
    "a b c a b a 1 2 3 1 2 1",
]

STANDARDIZE = ["lower_and_strip_punctuation", "lower", "strip_punctuation", None]
SPLITS = ["whitespace", "character"]

_counter = itertools.count()


def layer(**settings):
    """A TextVectorization layer with ragged int output (no padding)."""
    import tensorflow as tf

    return tf.keras.layers.TextVectorization(ragged=True, **settings)


def adapt_vocabulary(docs: list[str], **settings) -> list[bytes]:
    """The vocabulary of a layer adapted on `docs`, without the two reserved entries, as UTF-8.

    Read from the layer's lookup table rather than get_vocabulary(), which returns numpy strings, and
    numpy drops trailing NUL characters (a token "a\x00" shows as "a"); the two agree otherwise."""
    import tensorflow as tf

    adapted = layer(**settings)
    adapted.adapt(tf.data.Dataset.from_tensor_slices(docs).batch(4))
    keys, ids = adapted._lookup_layer.lookup_table.export()
    table = [token for _, token in sorted(zip(ids.numpy().tolist(), keys.numpy().tolist()))]
    shown = [str(t) for t in adapted.get_vocabulary()]
    assert shown[:2] == ["", "[UNK]"]
    assert shown[2:] == [t.decode().rstrip("\x00") for t in table]
    return table


def adapted_ids(docs: list[str], **settings) -> list[list[int]]:
    """The ids a layer adapted on `docs` gives each of them."""
    import tensorflow as tf

    adapted = layer(**settings)
    adapted.adapt(tf.data.Dataset.from_tensor_slices(docs).batch(4))
    return adapted(tf.constant(docs)).to_list()


def file_ids(docs: list[str | bytes], vocabulary_file: Path, **settings) -> list[list[int]]:
    """The ids TextVectorization(vocabulary=file) gives each document."""
    import tensorflow as tf

    # TensorFlow keeps a file's lookup table by its name for the whole process: a fresh name each time.
    fresh = vocabulary_file.with_name(f"{vocabulary_file.stem}-{next(_counter)}{vocabulary_file.suffix}")
    fresh.write_bytes(vocabulary_file.read_bytes())
    return layer(vocabulary=str(fresh), **settings)(tf.constant(docs)).to_list()


def keras_standardize(docs: list[str], standardize) -> list[bytes]:
    """What TextVectorization's own preprocessing makes of each document with split=None."""
    return [t for t in layer(standardize=standardize, split=None)._preprocess(docs).numpy().ravel()]


def keras_tokens(docs: list[str], **settings) -> list[list[bytes]]:
    """The tokens TextVectorization's own preprocessing makes of each document (its private
    `_preprocess`: the exact ops the layer runs before the lookup)."""
    return layer(**settings)._preprocess(docs).to_list()


def package_description_lines() -> list[str]:
    """Real text offline: the lines (over 20 characters) of the installed packages' descriptions, prose,
    tables and code, in a shuffled but fixed order."""
    import random
    import sysconfig

    lines = []
    for metadata in sorted(Path(sysconfig.get_paths()["purelib"]).glob("*.dist-info/METADATA")):
        body = metadata.read_text("utf-8", errors="replace").partition("\n\n")[2]
        lines += [line for line in body.splitlines() if len(line.strip()) > 20]
    random.Random(0).shuffle(lines)
    return lines

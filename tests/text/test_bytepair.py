"""prep.text.bytepair against KerasHub's BytePairTokenizer itself, on TensorFlow's path (the one a
tf.data pipeline runs), over arbitrary Unicode text, with GPT-2 style files trained by Hugging Face's
`tokenizers` as a user trains them."""

from __future__ import annotations

import json

import keras_hub
import pytest
import regex
import tensorflow as tf
import tokenizers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras_hub.src.tokenizers.byte_pair_tokenizer import split_strings_for_bpe

from prep.text.bytepair import BytePair, bytepair_vocabulary, bytes_to_unicode
from schemas import BytePairSettings
from tests.text import unicode_updates
from tests.text.test_sentencepiece import documents as sentencepiece_documents
from tests.text_reference import package_description_lines

SPECIAL = ["<|endoftext|>", "<s>"]
WORDS = ["the", "The", " quick", "fox's", "they're", "we'll", "I'd", "don't", "'S", "1234567", "x2", "٣", "École",
         "naïve", "Straße", "中文", "日本語", "한국어", "Ελλάδα", "\u00a0", "\u2009", "\u202f", "\u3000", "\u00a0\u2009\u202f\u3000",
         "६", "Ĵ", "ĴA", "ĴB", "<|endoftext|>", "<s>", "</s>", "  ", " ", "\n", "\n\n", "\r\n", "\t", "\v", "\f", "\x00",
         "!!", "...", "🙂", "a" * 40, "\u200b", "\ufeff", "\u0301"]


def documents(seed: int, n: int, characters: float = 0.4) -> list[str]:
    return sentencepiece_documents(seed, n, characters, WORDS)


def train(texts: list[str], size: int) -> tuple[dict[str, int], list[str]]:
    """vocab.json and merges.txt of a byte-level BPE trained as GPT-2's (Hugging Face tokenizers)."""
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tokenizer = tokenizers.Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=size, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    saved = json.loads(tokenizer.to_str())["model"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in saved["merges"]]
    return saved["vocab"], ["#version: 0.2", *merges]


@pytest.fixture(scope="module")
def files() -> tuple[dict[str, int], list[str]]:
    return train(documents(1, 3000, 0.02), 1500)


OPTIONS = [BytePairSettings(), BytePairSettings(add_prefix_space=True), BytePairSettings(unsplittable_tokens=tuple(SPECIAL))]


def _name(o: BytePairSettings) -> str:
    return f"prefix{o.add_prefix_space:d}-special{len(o.unsplittable_tokens)}"


def _bytes(vocabulary: dict[str, int], merges: list[str]) -> tuple[bytes, bytes]:
    return json.dumps(vocabulary).encode(), "".join(m + "\n" for m in merges).encode()


_ORACLES: dict = {}


def keras_hub_ids(files, options: BytePairSettings, texts: list[str]) -> list[list[int]]:
    """KerasHub's tokenizer in a tf.function, built and traced once per files and options (5 s each)."""
    key = (id(files), options)
    if key not in _ORACLES:
        vocabulary, merges = files
        tokenizer = keras_hub.tokenizers.BytePairTokenizer(
            vocabulary=vocabulary, merges=merges, add_prefix_space=options.add_prefix_space,
            unsplittable_tokens=list(options.unsplittable_tokens) or None)
        _ORACLES[key] = (files, tf.function(tokenizer, input_signature=[tf.TensorSpec([None], tf.string)]))
    return _ORACLES[key][1](tf.constant([t.encode("utf-8") for t in texts], tf.string)).to_list()


def prep_ids(files, options: BytePairSettings, texts: list[str]) -> list[list[int]]:
    vocabulary = bytepair_vocabulary(*_bytes(*files), ("vocab.json", "merges.txt"), options)
    ids = vocabulary.ids()
    tokenizer = BytePair(vocabulary, options)
    return [[ids[piece] for piece in tokenizer.tokens(text.encode("utf-8"))] for text in texts]


@pytest.mark.parametrize("options", OPTIONS, ids=_name)
def test_many_random_documents_get_keras_hubs_ids(files, options):
    texts = documents(29, 400)
    assert prep_ids(files, options, texts) == keras_hub_ids(files, options, texts)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(), min_size=1, max_size=8))
def test_any_text_gets_keras_hubs_ids(files, texts):
    options = OPTIONS[2]
    assert prep_ids(files, options, texts) == keras_hub_ids(files, options, texts)


def test_real_text_gets_keras_hubs_ids():
    """Prose, tables and code from the installed packages' descriptions, on files trained from part of it."""
    lines = package_description_lines()
    files = train(lines[:4000], 2000)
    texts = lines[4000:5000]
    options = BytePairSettings(add_prefix_space=True)
    assert prep_ids(files, options, texts) == keras_hub_ids(files, options, texts)


def test_code_points_are_pre_tokenised_as_keras_hub_does():
    """Code points between letters, after a space, before digits (RE2's \\p{L}, \\p{N} and \\s): every one
    whose class the `regex` module's Unicode tables and RE2's disagree on, and every 13th of the others."""
    recorded = json.loads(unicode_updates.FILE.read_text(encoding="utf-8"))
    disputed, everything = set(), "".join(chr(c) for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000)
    for name, prop in (("letters", r"\p{L}"), ("numbers", r"\p{N}")):
        re2 = {c for first, last in recorded[name] for c in range(first, last + 1)}
        disputed |= re2 ^ {ord(c) for c in regex.findall(prop, everything)}
    points = sorted(disputed | {c for c in range(1, 0x110000, 13) if not 0xD800 <= c < 0xE000})
    assert len(disputed) > 20_000
    texts = ["".join(f"a{chr(c)}b {chr(c)}1{chr(c)}." for c in points[i:i + 64]) for i in range(0, len(points), 64)]
    theirs = split_strings_for_bpe(tf.constant([t.encode("utf-8") for t in texts])).to_list()
    tokenizer = BytePair(bytepair_vocabulary(*_bytes({c: i for i, c in enumerate(bytes_to_unicode())}, []),
                                             ("v", "m"), BytePairSettings()))
    ours = [[w.encode("utf-8") for w in tokenizer.words(t)] for t in texts]
    assert [t[1] for t, a, b in zip(texts, ours, theirs) if a != b][:20] == []


@pytest.mark.parametrize("change, message", [
    (lambda v, m: (b"[1, 2]", m), r"vocab\.json: not a JSON vocabulary"),
    (lambda v, m: (b"\xff", m), r"vocab\.json: not a JSON vocabulary"),
    (lambda v, m: (json.dumps({**json.loads(v), "extra": 99999}).encode(), m), r"vocab\.json: the ids are not 0 to"),
    (lambda v, m: (v, m + b"a b c\n"), r"merges\.txt: line \d+ is not two tokens"),
    (lambda v, m: (v, m + "Ġ ĠĠĠĠĠĠĠĠĠĠ\n".encode()), r"merges\.txt: line \d+ \('Ġ ĠĠĠĠĠĠĠĠĠĠ'\) needs 'ĠĠĠĠĠĠĠĠĠĠ'"),
    (lambda v, m: (json.dumps({t: i for i, t in enumerate(t for t in json.loads(v) if t != "Ā")}).encode(), b""),
     r"vocab\.json: byte 0x00 \('Ā'\) has no token"),
])
def test_files_no_model_can_use_are_refused_in_one_line(files, change, message):
    vocabulary, merges = change(*_bytes(*files))
    with pytest.raises(ValueError, match=message) as e:
        bytepair_vocabulary(vocabulary, merges, ("vocab.json", "merges.txt"), BytePairSettings())
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("token, message", [("<unk>", "not a token of vocab.json"), ("<|endoftext|>x", "not a token")])
def test_unsplittable_tokens_must_be_tokens(files, token, message):
    with pytest.raises(ValueError, match=message):
        bytepair_vocabulary(*_bytes(*files), ("vocab.json", "merges.txt"), BytePairSettings(unsplittable_tokens=(token,)))

"""`prep report`: one self-contained HTML page with a chart per section, duplicates with leakage first,
text datasets read back from their token ids, and a clear message without the report extra."""

from __future__ import annotations

import io
import json
import re
import sys
from html.parser import HTMLParser

import pytest

from prep.inspection.report import page as report
from prep.records.example_codec import encode_example

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Parses a page, checking that every element is closed in order; collects links and sections."""

    def __init__(self, text: str):
        super().__init__()
        self.stack: list[str] = []
        self.links: list[str] = []
        self.sections: dict[str, list[str]] = {}   # section id -> tags inside it
        self._section: str | None = None
        self.feed(text)
        self.close()
        assert self.stack == [], f"unclosed elements: {self.stack}"

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [v for k, v in attrs.items() if k in ("src", "href", "xlink:href", "action") and v]
        if tag == "section":
            self._section = attrs["id"]
            self.sections[self._section] = []
        elif self._section:
            self.sections[self._section].append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("src", "href", "xlink:href") and v]
        if self._section:
            self.sections[self._section].append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()
        if tag == "section":
            self._section = None


def _photo(seed: int, size=(160, 120), quality: int = 90) -> bytes:
    """A distinct picture per seed (a smooth random field, so its perceptual hash has structure)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _recompressed(data: bytes, quality: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


WITHIN = ("train/a/copy_of_00.jpg", "train/a/img00.jpg")          # the same class, the same split
LEAK = ("test/b/leak_of_07.jpg", "train/b/img07.jpg")             # train and test: leakage
NEAR = ("train/a/img02.jpg", "train/b/recompressed_02.jpg")        # re-encoded at JPEG quality 40
NEAR_LEAK = ("test/a/resaved_04.jpg", "train/a/img04.jpg")         # re-saved at quality 55 into test: leakage


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Split folders with planted copies (within a class, across train/test, a near copy) and two bad files."""
    from prep.cli.main import main

    base = tmp_path_factory.mktemp("planted")
    src = base / "src"
    files = {f"{split}/{'a' if i % 2 == 0 else 'b'}/img{i:02d}.jpg": _photo(i)
             for i, split in enumerate(["train"] * 10 + ["test"] * 4)}
    files[WITHIN[0]] = files[WITHIN[1]]
    files[LEAK[0]] = files[LEAK[1]]
    files[NEAR[1]] = _recompressed(files[NEAR[0]], 40)
    files[NEAR_LEAK[0]] = _recompressed(files[NEAR_LEAK[1]], 55)
    files["train/a/notes.jpg"] = b"this is not a picture"
    files["train/b/empty.jpg"] = b""
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    out = base / "out"
    assert main(["images", str(src), str(out), "--num-shards", "2", "--workers", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def planted_page(planted) -> str:
    return report.build_report(str(planted))


IMAGE_SECTIONS = ["duplicates", "samples", "classes", "sizes", "bytes", "formats", "rejected", "shards", "features"]


def test_page_parses_is_self_contained_and_has_a_chart_per_section(planted_page):
    page = Page(planted_page)
    assert list(page.sections) == IMAGE_SECTIONS, "leakage puts the duplicates first"
    for name, tags in page.sections.items():
        assert "svg" in tags or "img" in tags, f"section {name} has no chart"
    assert page.sections["samples"].count("img") == 2 * 8, "8 samples of each of the 2 classes"
    external = [link for link in page.links if not link.startswith(("#", "data:image/"))]
    assert external == []
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", planted_page)
    assert "@import" not in planted_page and "url(http" not in planted_page


def test_planted_duplicates_are_shown_leakage_first(planted_page):
    top = planted_page.index("What stands out")
    leak_note = planted_page.index("Leakage: 1 group of identical images spans splits")
    near_leak_note = planted_page.index("Leakage: 1 group of near copies (the same picture re-encoded")
    assert top < leak_note < near_leak_note < planted_page.index('<section id="samples">')
    duplicates = planted_page[planted_page.index('<section id="duplicates">'):planted_page.index('<section id="samples">')]
    positions = [duplicates.index(f"<code>{p}</code>") for p in (*LEAK, *WITHIN, *NEAR_LEAK, *NEAR)]
    assert max(positions[:2]) < min(positions[2:4]), "copies across splits are listed before copies within one"
    assert max(positions[4:6]) < min(positions[6:8]), "near copies across splits before near copies within one"
    assert "Within a split: 1 group" in duplicates
    assert "Near copies across splits: 1 group (leakage)" in duplicates
    assert "Near copies within a split: 1 group</h3>" in duplicates
    assert duplicates.count("<img") == 8, "each copy is shown, read from its shard"
    assert "not read" not in duplicates.split("<h3>")[1]


def test_rejected_inputs_are_listed_with_their_paths(planted_page):
    rejected = planted_page[planted_page.index('<section id="rejected">'):]
    rejected = rejected[:rejected.index("</section>")]
    assert "train/a/notes.jpg" in rejected and "train/b/empty.jpg" in rejected
    assert "empty_file: 1" in rejected and "not_an_image: 1" in rejected


def test_report_command_writes_the_page(planted, tmp_path, prep_cli):
    out = tmp_path / "page.html"
    result = prep_cli("report", planted, "-o", out, "--per-class", "2")
    assert result.exit_code == 0, result.err
    assert f"wrote {out}" in result.out
    assert Page(out.read_text()).sections["samples"].count("img") == 2 * 2


def test_report_without_matplotlib_says_how_to_install_it(planted, tmp_path, prep_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = prep_cli("report", planted, "-o", tmp_path / "page.html")
    assert result.exit_code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "pip install 'tfrecord-prep[report]'" in result.err
    assert not (tmp_path / "page.html").exists()


TOKENS = ["the", "movie", "was", "good", "bad", "plot"]
DOCS = [("train", "pos", "the movie was good", [2, 3, 4, 5]), ("train", "neg", "the plot was zorblax", [2, 7, 4, 1]),
        ("test", "neg", "bad bad plot", [6, 6, 7])]


def _text_stats(variant: str) -> dict:
    stats = {"inputs": 3, "records": 3, "rejected": 0, "rejected_by_reason": {},
             "splits": {"train": {"records": 2, "classes": {"neg": 1, "pos": 1}},
                        "test": {"records": 1, "classes": {"neg": 1, "pos": 0}}}}
    if variant == "full":
        stats["splits"]["train"].update(tokens=8, oov_tokens=1, oov_rate=0.125)
        stats["splits"]["test"].update(tokens=3, oov_tokens=0, oov_rate=0.0)
        stats["text"] = {"tokens_per_document": {"count": 3, "min": 3, "max": 4, "mean": 3.667, "histogram": [
            {"from": 2, "below": 4, "count": 1}, {"from": 4, "below": 8, "count": 2}]}, "truncated": 0}
    return stats


@pytest.fixture(params=["full", "minimal"])
def text_dataset(request, tmp_path):
    """A text dataset written by hand: stats.json as the text job writes it ("full") or without any
    text figure ("minimal"), which the report must survive by reading the documents instead."""
    from prep.records import tfrecord_io
    from schemas import DatasetSchema, Feature, Shard, Split, TextSettings, Vocabulary, save_schema

    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "tokens.txt").write_text("".join(t + "\n" for t in TOKENS))
    (tmp_path / "vocab" / "labels.txt").write_text("neg\npos\n")
    splits = []
    for split in ("train", "test"):
        file = f"{split}-00000-of-00001.tfrecord"
        records = [encode_example({"text": ("string", [text]), "text/token_ids": ("int64", ids),
                                   "text/filename": ("string", [f"{label}/{i}.txt"]),
                                   "label": ("int64", [["neg", "pos"].index(label)])})
                   for i, (s, label, text, ids) in enumerate(DOCS) if s == split]
        n, size = tfrecord_io.write_records(str(tmp_path / file), records, "none")
        splits.append(Split(split, (Shard(file, n, size),), n))
    schema = DatasetSchema(
        "reviews", "text",
        (Feature("text", "string", (), "text"),
         Feature("text/token_ids", "int64", None, "token_ids", vocabulary="tokens", value_count=(3, 4), max_length=4),
         Feature("text/filename", "string", (), "text"),
         Feature("label", "int64", (), "class_id", vocabulary="labels")),
        tuple(splits), label_key="label",
        vocabularies=(Vocabulary("tokens", "vocab/tokens.txt", "tokens", len(TOKENS), 2, ((0, ""), (1, "[UNK]"))),
                      Vocabulary("labels", "vocab/labels.txt", "labels", 2)),
        text=TextSettings(max_length=4))
    save_schema(schema, str(tmp_path))
    (tmp_path / "stats.json").write_text(json.dumps(_text_stats(request.param)))
    return tmp_path


def test_text_report_reads_documents_back_with_oov_marked(text_dataset):
    page_text = report.build_report(str(text_dataset))
    page = Page(page_text)
    for name in ("classes", "lengths", "oov", "shards", "features"):
        assert "svg" in page.sections[name], f"section {name} has no chart"
    documents = page_text[page_text.index('<section id="documents">'):]
    assert '<span class="tok">plot</span> <span class="tok">was</span> <mark class="oov"' in documents
    assert "the plot was zorblax" in documents
    assert "documents longer than 4 tokens are cut at the dashed line" in page_text
    assert [link for link in page.links if not link.startswith(("#", "data:image/"))] == []


def test_foreign_records_without_stats_get_a_report_that_shows_a_skewed_shard(tmp_path):
    from prep.records import tfrecord_io
    from schemas import DatasetSchema, Feature, Shard, Split, save_schema

    shards = []
    for i, count in enumerate((100, 10, 95)):
        file = f"data-0000{i}-of-00003.tfrecord"
        n, size = tfrecord_io.write_records(str(tmp_path / file), [encode_example({"x": ("float32", [1.0])})] * count, "none")
        shards.append(Shard(file, n, size))
    save_schema(DatasetSchema("foreign", "records", (Feature("x", "float32", (), "number", presence=1.0),),
                              (Split("train", tuple(shards), 205),)), str(tmp_path))
    page_text = report.build_report(str(tmp_path))
    page = Page(page_text)
    assert list(page.sections) == ["shards", "features"]
    assert all("svg" in tags for tags in page.sections.values())
    assert "Split train: shards hold 10 to 100 records" in page_text
    assert report.findings(report.load_schema(str(tmp_path)).replace(splits=(Split("train", (
        Shard("a", 9, 1), Shard("b", 3, 1)), 12),)), {})[0].level == "ok", "a small split's spread is no alarm"


def test_conversion_errors_stand_out_apart_from_foreseen_rejections(made_dataset):
    schema = report.load_schema(str(made_dataset))
    stats = {"rejected": 5, "rejected_by_reason": {"corrupt": 3, "conversion_error": 2}}
    lines = [f.text for f in report.findings(schema, stats) if f.anchor == "rejected"]
    assert lines[0].startswith("2 inputs failed with an unexpected error (conversion_error)")
    assert lines[1] == "3 inputs rejected (corrupt 3)."


def test_a_near_search_that_split_or_skipped_crowded_hashes_says_so(made_dataset):
    schema = report.load_schema(str(made_dataset))
    near = {"groups": 0, "pairs": 0, "groups_across_splits": 0, "groups_within_a_split": 0,
            "split_by_other_bands": {"band_values": 2, "images": 1_200, "limit": 500},
            "not_compared": {"hashes": 1, "images": 600, "limit": 500}}
    stats = {"duplicates": {"exact": {}, "near": near}}
    lines = [f.text for f in report.findings(schema, stats) if f.anchor == "duplicates"]
    assert "The near-copy search left 600 images uncompared: 1 hash each shared by more than 500 images" in lines[0]
    assert lines[1].startswith("1,200 images shared a hash band with more than 500 others and were compared only")

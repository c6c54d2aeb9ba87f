"""The small inputs the README's examples run on, one folder per kind, made with Pillow and plain Python.

Each maker fills an empty folder with the files a group of README blocks names (`photos/`,
`train_labels.csv`, `annotations/instances_train2017.json`, `corpus.jsonl`, ...), small enough that the
whole README runs in a few minutes of CPU. A workspace name is a kind, optionally `kind:copy` for a second,
separate folder of the same kind. A maker may return further steps (`prep` commands that make datasets
the blocks start from), which the runner takes in the folder.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path
from typing import Callable, Union

from tests.conftest import image_bytes, write_image

CLASSES = ("daisy", "roses", "tulips")
COLORS = {"daisy": (240, 240, 40), "roses": (200, 20, 40), "tulips": (220, 120, 200)}


def _photo(path: Path, i: int, name: str, size=(48, 36)) -> Path:
    return write_image(path, size=(size[0] + i % 5, size[1] + i % 3), color=COLORS.get(name, (90, 160, 60)))


def images(root: Path) -> None:
    """Class folders, manifests and detection annotations for the `prep images` examples."""
    for name in CLASSES:
        for i in range(14):
            _photo(root / "photos" / name / f"{name}{i:02d}.jpg", i, name)
    # photos that arrive later, for the examples of datasets that grow (prep images --update)
    for name in CLASSES[:2]:
        for i in range(3):
            _photo(root / "more_photos" / name / f"{name}_new{i}.jpg", i + 20, name, size=(52, 40))
    # an exact copy and a near copy (re-encoded smaller), so stats.json has duplicate groups
    (root / "photos/roses/copy_of_daisy00.jpg").write_bytes((root / "photos/daisy/daisy00.jpg").read_bytes())
    write_image(root / "photos/tulips/near_daisy01.jpg", size=(49, 37), color=COLORS["daisy"], quality=60)

    # --manifest train_labels.csv images/: Kaggle's id,label (ids without an extension)
    rows = [(f"img{i}", "cat" if i % 2 else "dog") for i in range(8)]
    for stem, _ in rows:
        write_image(root / "images" / f"{stem}.jpg", size=(64, 48))
    _csv(root / "train_labels.csv", ["id", "label"], rows)
    # --masks trimaps/: Oxford-IIIT Pets' trimaps for images/ (1 pet, 2 background, 3 border)
    for stem, _ in rows:
        trimap = [[1 if 16 <= x < 48 and 12 <= y < 36 else 2 for x in range(64)] for y in range(48)]
        for y in (12, 35):
            trimap[y][16:48] = [3] * 32
        (root / "trimaps").mkdir(exist_ok=True)
        _grey_png(root / "trimaps" / f"{stem}.png", trimap)
    (root / "pet_classes.txt").write_text("unused\npet\nbackground\nborder\n")
    _csv(root / "pairs.csv", ["path", "mask"], [(f"images/{stem}.jpg", f"trimaps/{stem}.png") for stem, _ in rows])
    # --boxes boxes.csv images/: generate_tfrecord.py's rows
    _csv(root / "boxes.csv", ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"],
         [(f"img{i}.jpg", 64, 48, "cat" if i % 2 else "dog", 4, 6, 40, 30) for i in range(8)])
    # --manifest automl.csv gs://bucket/: AutoML Vision's header-less CSV (a Dataflow dry run reads row 1)
    _csv(root / "automl.csv", None, [(s, f"gs://bucket/img/{i}.jpg", "cat" if i % 2 else "dog")
                                     for i, s in enumerate(["TRAIN", "VALIDATION", "TEST", "UNASSIGNED"] * 2)])
    # --manifest tags.jsonl photos/ --multi-label
    with open(root / "tags.jsonl", "w") as f:
        for i in range(12):
            name = CLASSES[i % 3]
            tags = [name, "outdoor"] if i % 2 else [name]
            f.write(json.dumps({"path": f"photos/{name}/{name}{i:02d}.jpg", "labels": tags}) + "\n")
    # --manifest ages.csv faces/ --target-field age
    for i in range(8):
        _photo(root / "faces" / f"face{i}.jpg", i, "face")
    _csv(root / "ages.csv", ["path", "age"], [(f"face{i}.jpg", 20 + 3 * i) for i in range(8)])

    # --coco annotations/instances_train2017.json train2017/
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]}
    for i in range(6):
        write_image(root / "train2017" / f"{i:012d}.jpg", size=(80, 60))
        coco["images"].append({"id": i + 1, "file_name": f"{i:012d}.jpg", "width": 80, "height": 60})
        for j in range(1 + i % 2):
            coco["annotations"].append({"id": 10 * i + j, "image_id": i + 1, "category_id": 1 if j else 3,
                                        "bbox": [5 + 10 * j, 5, 30, 20], "area": 600.0, "iscrowd": 0})
    (root / "annotations").mkdir()
    (root / "annotations/instances_train2017.json").write_text(json.dumps(coco))

    # --voc VOCdevkit/VOC2012 --voc-split ImageSets/Main/train.txt
    voc = root / "VOCdevkit/VOC2012"
    ids = [f"2007_{i:06d}" for i in range(4)]
    for n, stem in enumerate(ids):
        write_image(voc / "JPEGImages" / f"{stem}.jpg", size=(70, 50))
        (voc / "Annotations").mkdir(parents=True, exist_ok=True)
        (voc / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><size><width>70</width><height>50</height>"
            "<depth>3</depth></size><object><name>" + ("dog" if n % 2 else "cat") + "</name><difficult>0"
            "</difficult><truncated>0</truncated><bndbox><xmin>10</xmin><ymin>8</ymin><xmax>50</xmax>"
            "<ymax>40</ymax></bndbox></object></annotation>")
    (voc / "ImageSets/Main").mkdir(parents=True)
    (voc / "ImageSets/Main/train.txt").write_text("".join(f"{stem}\n" for stem in ids))
    # --voc ... --masks: SegmentationClass/ (ids 0 background, 8 cat, 12 dog) and ImageSets/Segmentation/
    (voc / "SegmentationClass").mkdir()
    for n, stem in enumerate(ids):
        _grey_png(voc / "SegmentationClass" / f"{stem}.png",
                  [[(12 if n % 2 else 8) if 10 <= x < 50 and 8 <= y < 40 else 0 for x in range(70)] for y in range(50)])
    # --voc ... --masks SegmentationObject: index 1, the XML's one object, where SegmentationClass has its class
    (voc / "SegmentationObject").mkdir()
    for stem in ids:
        _grey_png(voc / "SegmentationObject" / f"{stem}.png",
                  [[1 if 10 <= x < 50 and 8 <= y < 40 else 0 for x in range(70)] for y in range(50)])
    (voc / "ImageSets/Segmentation").mkdir()
    (voc / "ImageSets/Segmentation/trainval.txt").write_text("".join(f"{stem}\n" for stem in ids))


def _grey_png(path: Path, rows: list[list[int]]) -> None:
    """A one-channel PNG of the values in `rows` (a segmentation mask)."""
    from PIL import Image

    im = Image.new("L", (len(rows[0]), len(rows)))
    im.putdata([v for row in rows for v in row])
    im.save(path)


def tfrecords(root: Path) -> None:
    """data/old: TFRecords prep did not write, `tf.train.Example`s of a PNG and an int64 label."""
    from prep.records.example_codec import encode_example
    from prep.records.tfrecord_io import write_records

    (root / "data/old").mkdir(parents=True)
    for split, n in (("train", 6), ("test", 3)):
        records = [encode_example({"image": ("string", [image_bytes(size=(12, 10), fmt="PNG", color=(30 * i, 0, 0))]),
                                   "label": ("int64", [i % 2])}) for i in range(n)]
        write_records(str(root / f"data/old/{split}.tfrecord"), records, "none")


def text(root: Path) -> None:
    """corpus/ (class folders of documents) and corpus.jsonl (`body`, `topic`) for `prep text`/`prep vocab`."""
    rng = random.Random(32)
    words = {"sports": "ball team goal match score win player coach league season".split(),
             "politics": "vote law party election senate policy court minister budget debate".split()}
    common = "the a of and to in is on for with".split()
    with open(root / "corpus.jsonl", "w") as jsonl:
        for topic, vocabulary in words.items():
            for i in range(12):
                doc = " ".join(rng.choice(vocabulary + common) for _ in range(12)).capitalize() + "."
                path = root / "corpus" / topic / f"{i:02d}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(doc + "\n")
                jsonl.write(json.dumps({"body": doc, "topic": topic}) + "\n")
    # a BERT-style WordPiece vocab.txt, for the example of prep text --tokenizer wordpiece (docs/text.md)
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *common, *(w for ws in words.values() for w in ws)]
    (root / "vocab.txt").write_text("\n".join(pieces + ["play", "##er", "##s", "##ing"]) + "\n")
    # a SentencePiece model trained on the corpus, for prep text --tokenizer sentencepiece (docs/text.md)
    import sentencepiece

    bodies = [json.loads(line)["body"] for line in (root / "corpus.jsonl").read_text().splitlines()]
    with open(root / "tokenizer.model", "wb") as model:
        sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(bodies), model_writer=model, vocab_size=60,
                                                 hard_vocab_limit=False, minloglevel=2)
    # GPT-2 style vocabulary.json and merges.txt trained on the corpus, for prep text --tokenizer bpe
    from tests.text.test_bytepair import train

    vocabulary, merges = train(bodies, 400)
    (root / "vocabulary.json").write_text(json.dumps(vocabulary))
    (root / "merges.txt").write_text("".join(m + "\n" for m in merges))
    # a day of documents that arrives later, for the examples of datasets that grow (prep text --update)
    with open(root / "more.jsonl", "w") as jsonl:
        for i in range(6):
            topic = "sports" if i % 2 else "politics"
            doc = " ".join(rng.choice(words[topic] + common + ["transfer", "window"]) for _ in range(12))
            jsonl.write(json.dumps({"body": doc.capitalize() + ".", "topic": topic}) + "\n")


def digits(root: Path) -> None:
    """demo_out/digits: the UCI digits as `make demo` writes them, for the worked example."""
    from prep.cli.demo import write_digits

    write_digits(root / "demo_out/digits")


def tfds(root: Path) -> list:
    """data/flowers (a prep dataset), data/mnist/3.0.1 (a folder as TFDS prepares it: shards,
    dataset_info.json and features.json only) and data/x (shards that a schema.pbtxt describes)."""
    for name in CLASSES:
        for i in range(6):
            _photo(root / "photos" / name / f"{name}{i}.jpg", i, name)

    def tfds_only(folder: Path = root / "data/mnist/3.0.1") -> None:
        for path in folder.iterdir():
            if not (path.suffix == ".tfrecord" or path.name in ("dataset_info.json", "features.json")):
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def shards_of_flowers() -> None:
        (root / "data/x").mkdir()
        for shard in (root / "data/flowers").glob("*.tfrecord"):
            shutil.copy(shard, root / "data/x" / shard.name)

    return [["images", "photos", "data/flowers", "--num-shards", "2"], shards_of_flowers,
            ["images", "photos", "data/mnist/3.0.1", "--num-shards", "1"], ["export", "tfds", "data/mnist/3.0.1"],
            tfds_only]


def empty(root: Path) -> None:
    """Nothing: for blocks that only read gs:// paths in a dry run."""


def _csv(path: Path, header: list[str] | None, rows) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)


# A maker may return steps to take once its files are there: `prep` arguments, or callables.
Step = Union[list, Callable[[], None]]
MAKERS: dict[str, Callable[[Path], Union[None, list[Step]]]] = {
    "images": images, "tfrecords": tfrecords, "text": text, "digits": digits, "tfds": tfds, "empty": empty,
}

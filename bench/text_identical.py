"""Check: `prep text` from two source trees writes the same bytes (every file but schema.json, whose
provenance holds the run's time), on a generated corpus, for a set of option combinations.

For a change meant to leave the records alone (a faster encoder, a new pipeline shape): export the
commit before it (`git archive BASE | tar -x -C /tmp/base`) and give both trees.

    .venv/bin/python bench/text_identical.py /tmp/base .        # exit 1 if any output differs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from text import generate  # noqa: E402  (bench/text.py's corpus)

OPTION_SETS = {
    "given vocabulary": ["--vocab", "{vocab}"],
    "2 workers, split, shard size": ["--vocab", "{vocab}", "--split", "train=0.8,test=0.2", "--shard-size", "1MB",
                                     "--workers", "2"],
    "learned, dedupe, gzip": ["--max-tokens", "5000", "--dedupe", "--split", "train=0.7,test=0.3", "--num-shards", "3",
                              "--compression", "gzip", "--workers", "2"],
    "max length, no raw text": ["--vocab", "{vocab}", "--max-length", "7", "--no-raw-text", "--shard-size", "500kB",
                                "--workers", "1"],
    "characters, bigrams": ["--split-on", "character", "--ngrams", "2", "--standardize", "lower", "--max-tokens", "3000",
                            "--workers", "2"],
}


def corpus(work: Path) -> tuple[Path, Path]:
    """30,000 documents of bench/text.py's short case, with copies, bad lines, blank lines and long documents."""
    source, vocab, _ = generate(work, "short", 30_000)
    rng = random.Random(3)
    out: list[str] = []
    for line in source.read_text(encoding="utf-8").splitlines():
        out.append(line)
        r = rng.random()
        if r < 0.03:
            out.append(rng.choice(out))
        elif r < 0.035:
            out.append('{"text": "only , punctuation !!", "label": "topic1"}')
        elif r < 0.037:
            out.append("{broken")
        elif r < 0.039:
            out.append("")
        elif r < 0.041:
            text = "Ünïcödé ÉCOLE école " * rng.randrange(1, 400)
            out.append(json.dumps({"text": text, "label": "topic2"}, ensure_ascii=False))
    path = work / "mixed.jsonl"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path, vocab


def digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "schema.json"}


def run(tree: Path, src: Path, out: Path, flags: list[str], cwd: Path) -> dict[str, str]:
    # Beam's worker processes put their working directory first on sys.path: run them where no tree is.
    env = dict(os.environ, PYTHONPATH=str(tree.resolve()))
    command = [str(Path(sys.executable).with_name("prep")), "text", str(src), str(out), "--text-field", "text",
               "--label-field", "label", "--overwrite", *flags]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{tree}: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return digests(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="source tree of the code before the change")
    parser.add_argument("after", type=Path, help="source tree of the code after it")
    parser.add_argument("--workdir", default="/tmp/prep-bench-text-identical")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    src, vocab = corpus(work)
    differ = False
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for name, flags in OPTION_SETS.items():
            flags = [f.format(vocab=vocab) for f in flags]
            before = run(args.before, src, Path(tmp) / "before", flags, Path(tmp))
            after = run(args.after, src, Path(tmp) / "after", flags, Path(tmp))
            same = before == after
            differ |= not same
            print(f"{name:<32} {'identical' if same else 'DIFFERENT'} ({len(before)} files)", flush=True)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()

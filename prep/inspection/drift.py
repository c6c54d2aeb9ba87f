"""How one version of a dataset differs from another, from their two stats.json, measured as TFDV's
drift comparator measures it: L-infinity distance for class balance, Jensen-Shannon divergence for
histograms.

Pure functions of the two stats dicts, so the CLI only loads, prints and decides the exit code, and
the numbers are tested without a dataset. Every measure is a fraction from 0 (unchanged) to 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import log2

DECIMALS = 4  # floats in stats_drift's answer are rounded to this many places

# Where the stats builders (prep.images.dataset.image_stats, prep.text.dataset.text_stats) write a
# Distribution.to_dict(), as (section, name). Units: pixels (width, height, box_side), bytes of the
# encoded image (bytes), tokens (tokens_per_document, ids_per_record).
HISTOGRAMS = (
    ("images", "width"),
    ("images", "height"),
    ("images", "bytes"),
    ("text", "tokens_per_document"),
    ("text", "ids_per_record"),
    ("objects", "box_side"),
)
# ... and those written once per split, as {split: distribution}: boxes per image of a detection dataset.
SPLIT_HISTOGRAMS = (("objects", "boxes_per_image"),)


def _shares(counts: Mapping) -> dict | None:
    """Each key's share of the total (a fraction), or None when there is nothing to share."""
    total = sum(counts.values())
    return {key: n / total for key, n in counts.items()} if total else None


def _compare_shares(a: Mapping, b: Mapping, measure) -> float:
    """`measure` of the two frequency distributions; both empty: 0.0, one empty: 1.0."""
    p, q = _shares(a), _shares(b)
    if p is None and q is None:
        return 0.0
    if p is None or q is None:
        return 1.0
    return min(1.0, max(0.0, measure(p, q)))  # float rounding must not leave [0, 1]


def _linf(p: dict, q: dict) -> float:
    return max(abs(p.get(key, 0.0) - q.get(key, 0.0)) for key in p.keys() | q.keys())


def _js(p: dict, q: dict) -> float:
    total = 0.0
    for key in p.keys() | q.keys():
        pk, qk = p.get(key, 0.0), q.get(key, 0.0)
        middle = (pk + qk) / 2
        total += sum(x / 2 * log2(x / middle) for x in (pk, qk) if x)
    return total


def linf_distance(a: Mapping[str, int], b: Mapping[str, int]) -> float:
    """L-infinity distance between two categorical distributions given as counts: the largest change
    of any category's share (a fraction of the whole, 0 to 1). A key missing on one side counts 0.
    Both empty: 0.0, nothing moved; one empty: 1.0, the largest distance there is, since all of the
    distribution appeared or vanished."""
    return _compare_shares(a, b, _linf)


def _bucket_counts(dist: Mapping) -> dict:
    """Values per bucket of a Distribution.to_dict(), keyed by the bucket's lower bound ("from")."""
    counts: dict = {}
    for bucket in dist.get("histogram") or ():
        counts[bucket["from"]] = counts.get(bucket["from"], 0) + bucket["count"]
    return counts


def js_divergence(a: dict, b: dict) -> float:
    """Jensen-Shannon divergence (base 2, so 0 to 1) between two histograms in the
    Distribution.to_dict() format, buckets aligned by their lower bound ("from"; a bucket missing on
    one side holds 0). Both empty: 0.0; one empty: 1.0, as for linf_distance."""
    return _compare_shares(_bucket_counts(a), _bucket_counts(b), _js)


def _round(x):
    return round(x, DECIMALS) if isinstance(x, float) else x


def _change(old: int, new: int) -> dict:
    return {"old": old, "new": new, "change": new - old}


def _union(new: Mapping, old: Mapping) -> list:
    """Keys of both, in `new`'s order, then those only `old` has in its order."""
    return list(new) + [key for key in old if key not in new]


def _class_drift(old: Mapping | None, new: Mapping | None) -> dict | None:
    """How records per class changed; None unless both sides count classes (an unlabelled or a
    regression dataset, or a split only one version has: nothing to compare)."""
    if old is None or new is None:
        return None
    return {
        "linf": _round(linf_distance(old, new)),
        "counts": {name: _change(old.get(name, 0), new.get(name, 0)) for name in _union(new, old)},
        # By records, not by listing: an image dataset lists every class folder in every split.
        "appeared": [name for name in new if new[name] and not old.get(name)],
        "vanished": [name for name in old if old[name] and not new.get(name)],
    }


def _classes_of_all_splits(splits: Mapping) -> dict | None:
    """Records per class summed over the splits that count classes; None when none does."""
    labelled = [s["classes"] for s in splits.values() if s.get("classes") is not None]
    if not labelled:
        return None
    total: dict = {}
    for classes in labelled:
        for name, n in classes.items():
            total[name] = total.get(name, 0) + n
    return total


def _split_drift(old: Mapping | None, new: Mapping | None) -> dict:
    old, new = old or {}, new or {}
    return {
        "records": _change(old.get("records", 0), new.get("records", 0)),
        "classes": _class_drift(old.get("classes"), new.get("classes")),
    }


def _distribution(stats: Mapping, *path: str) -> dict | None:
    """The Distribution.to_dict() at `path` in stats.json, or None when it is not there (or null)."""
    found = stats
    for key in path:
        found = found.get(key) if isinstance(found, Mapping) else None
    return found if isinstance(found, Mapping) and "histogram" in found else None


def _histogram_paths(old: Mapping, new: Mapping) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = list(HISTOGRAMS)
    for section, name in SPLIT_HISTOGRAMS:
        per_split = [(s.get(section) or {}).get(name) for s in (new, old)]
        per_split = [p if isinstance(p, Mapping) else {} for p in per_split]
        paths += [(section, name, split) for split in _union(*per_split)]
    return paths


def _histogram_drift(old: Mapping, new: Mapping) -> dict:
    """JS divergence of each histogram both stats.json hold, keyed by its dotted path
    ("images.width", "objects.boxes_per_image.train"), with its count and mean old and new."""
    out = {}
    for path in _histogram_paths(old, new):
        a, b = _distribution(old, *path), _distribution(new, *path)
        if a is None or b is None:
            continue
        out[".".join(path)] = {
            "js_divergence": _round(js_divergence(a, b)),
            "count": _change(a.get("count", 0), b.get("count", 0)),
            "mean": {"old": _round(a.get("mean")), "new": _round(b.get("mean"))},
        }
    return out


def _rejection_drift(old: Mapping, new: Mapping) -> dict:
    """Inputs left out, in all and by reason; `new_reasons`: reasons with rejections only in `new`."""
    before, after = old.get("rejected_by_reason") or {}, new.get("rejected_by_reason") or {}
    return _change(old.get("rejected", sum(before.values())), new.get("rejected", sum(after.values()))) | {
        "new_reasons": {reason: n for reason, n in after.items() if n and not before.get(reason)},
        "by_reason": {reason: _change(before.get(reason, 0), after.get(reason, 0)) for reason in _union(after, before)},
    }


def stats_drift(old: dict, new: dict) -> dict:
    """How dataset version `new` differs from `old`, from their stats.json: records, splits, class
    balance per split and over all splits (L-infinity; a class's records old and new, not which
    records came or went, which stats.json cannot tell), each histogram both hold (JS divergence),
    and rejections by reason. Plain JSON, floats rounded to DECIMALS places, keys in a fixed order
    (splits, classes and reasons: `new`'s order, then those only `old` has)."""
    old_splits, new_splits = old.get("splits") or {}, new.get("splits") or {}
    return {
        "records": _change(old.get("records", 0), new.get("records", 0)),
        "splits_appeared": [s for s in new_splits if s not in old_splits],
        "splits_vanished": [s for s in old_splits if s not in new_splits],
        "classes": _class_drift(_classes_of_all_splits(old_splits), _classes_of_all_splits(new_splits)),
        "splits": {s: _split_drift(old_splits.get(s), new_splits.get(s)) for s in _union(new_splits, old_splits)},
        "histograms": _histogram_drift(old, new),
        "rejected": _rejection_drift(old, new),
    }


def over_thresholds(drift: dict, *, max_linf: float | None, max_js: float | None) -> list[str]:
    """One sentence per measure of `drift` (stats_drift's answer) strictly over its threshold, as
    reported (rounded); a None threshold checks nothing. Empty when the drift is acceptable."""
    found = []
    if max_linf is not None:
        balances = [(f"of split {name}", split["classes"]) for name, split in drift["splits"].items()]
        for where, classes in balances + [("over all splits", drift["classes"])]:
            if classes is not None and classes["linf"] > max_linf:
                found.append(f"class balance {where} moved {classes['linf']} (L-infinity), "
                             f"over --max-class-drift {max_linf}")
    if max_js is not None:
        for name, histogram in drift["histograms"].items():
            if histogram["js_divergence"] > max_js:
                found.append(f"histogram of {name} moved {histogram['js_divergence']} (Jensen-Shannon divergence), "
                             f"over --max-histogram-drift {max_js}")
    return found

"""The charts of `prep report`, drawn with matplotlib (Agg, no display) as SVG text to inline in the page.

matplotlib is an optional extra (`pip install 'tfrecord-prep[report]'`): it is imported on the first
chart, never at import time, so `prep inspect` and the rest of the toolkit run without it.
Each function takes plain numbers (from stats.json, schema.json or the records read) and returns the
`<svg>` element as a string; a chart is 8 inches wide with 10-point text, which a page shows at about
800 pixels with 13-pixel labels.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from typing import Mapping, Sequence

WIDTH = 8.0           # inches
FONT_SIZE = 10        # points
BAR_HEIGHT = 0.28     # inches per category of a horizontal bar chart
MAX_BARS = 60         # categories drawn by a bar chart; more become the largest and smallest halves
COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
WARN = "#c44e52"
INSTALL_HINT = "pip install 'tfrecord-prep[report]'"


class MissingExtraError(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError(f"prep report draws its charts with matplotlib, which is not installed: {INSTALL_HINT}") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "axes.labelsize": FONT_SIZE,
        "xtick.labelsize": FONT_SIZE - 1, "ytick.labelsize": FONT_SIZE - 1, "legend.fontsize": FONT_SIZE - 1,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "axes.axisbelow": True, "svg.fonttype": "path", "svg.hashsalt": "prep-report",
    })
    return plt


def require_matplotlib() -> None:
    """Raise MissingExtraError now, before any work, if charts cannot be drawn."""
    _pyplot()


def _svg(fig) -> str:
    """The figure as an `<svg>` element for an HTML page: no XML prologue, no DOCTYPE (its DTD address
    is a URL), ids prefixed so that several charts in one page never share one."""
    plt = _pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text, count=2)
    prefix = "c" + hashlib.sha1(text.encode()).hexdigest()[:8] + "-"  # the same chart twice may share its ids
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
    return text.strip()


def _figure(height: float):
    plt = _pyplot()
    return plt.subplots(figsize=(WIDTH, max(1.6, height)), layout="constrained")


def _thousands(ax, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(integer=True))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _shorten(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[:limit // 2 - 1] + "\u2026" + label[-(limit // 2 - 1):]


def _keep_extremes(labels: list[str], totals: list[int]) -> tuple[list[int], str]:
    """Indices of the categories to draw (all, or the largest and smallest halves of MAX_BARS) and a note."""
    if len(labels) <= MAX_BARS:
        return list(range(len(labels))), ""
    order = sorted(range(len(labels)), key=lambda i: (-totals[i], labels[i]))
    half = MAX_BARS // 2
    keep = order[:half] + order[-half:]
    return keep, f" ({half} largest and {half} smallest of {len(labels):,})"


def stacked_bars(categories: Sequence[str], series: Mapping[str, Sequence[int]], title: str, xlabel: str,
                 keep_order: bool = True) -> str:
    """Horizontal bars, one per category, stacked by series (e.g. records per class, stacked by split),
    with the total at the end of each bar."""
    labels = list(categories)
    names = list(series)
    totals = [sum(series[n][i] for n in names) for i in range(len(labels))]
    keep, note = _keep_extremes(labels, totals)
    if not keep_order or note:
        keep = sorted(keep, key=lambda i: (-totals[i], labels[i]))
    fig, ax = _figure(0.9 + BAR_HEIGHT * len(keep) + (0.3 if len(names) > 1 else 0))
    y = list(range(len(keep)))
    left = [0] * len(keep)
    for colour, name in zip(itertools.cycle(COLOURS), names):
        values = [series[name][i] for i in keep]
        ax.barh(y, values, left=left, color=colour, label=name, height=0.7)
        left = [a + b for a, b in zip(left, values)]
    peak = max(left, default=0) or 1
    for yi, total in zip(y, left):
        ax.text(total + peak * 0.01, yi, f"{total:,}", va="center", fontsize=FONT_SIZE - 1)
    ax.set_yticks(y, [_shorten(labels[i]) for i in keep])
    ax.invert_yaxis()
    ax.set_xlim(0, peak * 1.12)
    ax.set_xlabel(xlabel)
    ax.set_title(title + note, loc="left")
    ax.grid(axis="y", visible=False)
    _thousands(ax)
    if len(names) > 1:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(names), 6), frameon=False,
                  borderaxespad=1.6)
    return _svg(fig)


def bucket_label(low: float, below: float, unit: str = "") -> str:
    """The label of a power-of-two bucket [low, below): '64–127', or '64–127 B' / '1.02–2.05 kB' with
    the unit once, at the end."""
    if unit == "B":
        name, scale = next(((n, s) for n, s in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)) if below - 1 >= s), ("B", 1))
        fmt = (lambda n: f"{n:.0f}") if scale == 1 else (lambda n: f"{n / scale:.3g}")
        return (fmt(low) if below - low <= 1 else f"{fmt(low)}–{fmt(below - 1)}") + f" {name}"
    return f"{low:,.0f}" if below - low <= 1 else f"{low:,.0f}–{below - 1:,.0f}"


def _histogram_axes(ax, buckets: Sequence[Mapping], title: str, xlabel: str, unit: str = "",
                    mark: float | None = None, mark_label: str = "") -> None:
    counts = [b["count"] for b in buckets]
    x = list(range(len(buckets)))
    ax.bar(x, counts, color=COLOURS[0], width=0.85)
    labels = [bucket_label(b["from"], b["below"], unit) for b in buckets]
    crowded = len(x) * max(map(len, labels), default=0) > 60
    ax.set_xticks(x, labels, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    for xi, n in zip(x, counts):
        ax.text(xi, n, f"{n:,}", ha="center", va="bottom", fontsize=FONT_SIZE - 2, zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6, "alpha": 0.85})
    ax.set_ylim(0, max(counts, default=1) * 1.15 or 1)
    ax.set_xlim(-0.6, max(len(x), 3) - 0.4)
    if mark is not None:
        position = next((i + (mark - b["from"]) / max(1, b["below"] - b["from"]) - 0.5
                         for i, b in enumerate(buckets) if b["from"] <= mark < b["below"]),
                        len(buckets) - 0.5 if buckets and mark >= buckets[-1]["below"] else -0.5)
        ax.axvline(position, color=WARN, linestyle="--", linewidth=1.5, label=mark_label or None)
        if mark_label:
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, borderaxespad=0.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    ax.set_title(title, loc="left")
    ax.grid(axis="x", visible=False)
    _thousands(ax, "y")


def histogram(buckets: Sequence[Mapping], title: str, xlabel: str, unit: str = "", mark: float | None = None,
              mark_label: str = "") -> str:
    """A histogram of stats.json's power-of-two buckets ({"from", "below", "count"}); `mark` draws a
    vertical line at that value (e.g. the --max-length cut)."""
    fig, ax = _figure(2.8)
    _histogram_axes(ax, buckets, title, xlabel, unit, mark, mark_label)
    return _svg(fig)


def histograms(panels: Sequence[tuple[Sequence[Mapping], str, str]], unit: str = "") -> str:
    """Histograms side by side, each (buckets, title, x label), e.g. image width and height."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH, 2.8), layout="constrained", squeeze=False)
    for ax, (buckets, title, xlabel) in zip(axes[0], panels):
        _histogram_axes(ax, buckets, title, xlabel, unit)
    return _svg(fig)


def size_scatter(sizes: Sequence[tuple[int, int]], title: str) -> str:
    """Width against height (pixels) of the records read: one dot per image, darker where they pile up."""
    fig, ax = _figure(3.6)
    if sizes:
        from collections import Counter

        counts = Counter(sizes)
        xs, ys, ns = zip(*((w, h, n) for (w, h), n in sorted(counts.items())))
        peak = max(ns)
        ax.scatter(xs, ys, s=[18 + 60 * (n / peak) ** 0.5 for n in ns], c=COLOURS[0],
                   alpha=min(0.9, max(0.25, 30 / len(sizes) ** 0.5)), edgecolors="none")
        top = max(max(xs), max(ys))
        ax.plot([0, top], [0, top], color="#999999", linewidth=0.8, linestyle=":", label="square")
        ax.set_xlim(0, max(xs) * 1.08 + 1)
        ax.set_ylim(0, max(ys) * 1.08 + 1)
        ax.legend(loc="upper left", frameon=False)
    ax.set_xlabel("width (pixels)")
    ax.set_ylabel("height (pixels)")
    ax.set_title(title, loc="left")
    _thousands(ax, "x")
    _thousands(ax, "y")
    return _svg(fig)


def counts_bars(counts: Mapping[str, int | float], title: str, xlabel: str, highlight: Sequence[str] = (),
                percent: bool = False) -> str:
    """One horizontal bar per key, in the given order; keys in `highlight` are drawn in the warning colour.
    When the counts span more than two orders of magnitude the axis is logarithmic, so a dozen leaking
    groups still show beside half a million near pairs."""
    labels = list(counts)
    values = [counts[k] for k in labels]
    fig, ax = _figure(0.8 + BAR_HEIGHT * max(2, len(labels)))
    y = list(range(len(labels)))
    positive = [v for v in values if v > 0]
    log = not percent and len(positive) > 1 and max(positive) >= 100 * min(positive)
    peak = max(values, default=0) or 1
    colours = [WARN if k in highlight else COLOURS[0] for k in labels]
    if log:
        ax.set_xscale("log")
        ax.barh([yi for yi, v in zip(y, values) if v > 0], [v for v in values if v > 0],
                color=[c for c, v in zip(colours, values) if v > 0], height=0.65, left=0.5)
        ax.set_xlim(0.5, peak * 4)
        xlabel += " (log scale)"
    else:
        ax.barh(y, values, color=colours, height=0.65)
        ax.set_xlim(0, peak * 1.15)
    for yi, v in zip(y, values):
        where = max(v, 0.5) * 1.1 if log else v + peak * 0.01
        ax.text(where, yi, f"{v:.1%}" if percent else f"{v:,}", va="center", fontsize=FONT_SIZE - 1)
    ax.set_yticks(y, [_shorten(k, 40) for k in labels])
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.grid(axis="y", visible=False)
    if percent:
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    elif not log:
        _thousands(ax)
    else:
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else ""))
    return _svg(fig)


def is_skewed(count: int, mean: float) -> bool:
    """Whether a shard's record count is far from its split's mean: empty, or more than 25% off and
    more than 4 standard deviations of hash-assigned counts (about the square root of the mean)
    off, so that the few records of a small split do not raise false alarms."""
    return count == 0 or abs(count - mean) > max(0.25 * mean, 4 * mean ** 0.5)


def shard_bars(splits: Mapping[str, Sequence[int]], title: str) -> str:
    """Records per shard, one panel per split, a dashed line at the split's mean; skewed shards
    (`is_skewed`) are drawn in the warning colour."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    names = [n for n in splits if splits[n]]
    fig, axes = plt.subplots(len(names) or 1, 1, figsize=(WIDTH, max(1.8, 0.5 + 1.7 * len(names))),
                             layout="constrained", squeeze=False)
    fig.suptitle(title, x=0.0, ha="left", fontsize=FONT_SIZE + 1)
    for ax, name in zip(axes[:, 0], names):
        counts = splits[name]
        mean = sum(counts) / len(counts)
        colours = [WARN if is_skewed(n, mean) else COLOURS[0] for n in counts]
        ax.bar(range(len(counts)), counts, color=colours, width=0.8 if len(counts) > 1 else 0.4)
        ax.axhline(mean, color="#555555", linestyle="--", linewidth=1)
        ax.set_ylim(0, max(counts) * 1.15 or 1)
        ax.set_xlim(-0.6, max(len(counts), 2) - 0.4)
        ax.grid(axis="x", visible=False)
        _thousands(ax, "x")
        _thousands(ax, "y")
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        ax.set_ylabel("records")
        ax.set_title(f"{name}: {len(counts):,} shards, mean {mean:,.{0 if mean >= 10 else 1}f} records (dashed), "
                     f"min {min(counts):,}, "
                     f"max {max(counts):,}", loc="left", fontsize=FONT_SIZE)
    axes[-1, 0].set_xlabel("shard number")
    return _svg(fig)


def value_ranges(features: Sequence[tuple[str, int | None, int | None, float | None]], title: str) -> str:
    """Values per record of each feature (name, min, max, presence): a bar up to the most values, its
    part from the fewest to the most darker; a feature whose counts are unknown is listed without a
    bar, and the presence is written beside each."""
    fig, ax = _figure(0.9 + BAR_HEIGHT * max(2, len(features)))
    y = list(range(len(features)))
    peak = max((hi for _, _, hi, _ in features if hi is not None), default=1) or 1
    for yi, (name, lo, hi, presence) in zip(y, features):
        present = "" if presence is None else f",  present in {presence:.0%}"
        if lo is None or hi is None:
            ax.text(0, yi, f" unknown{present}", va="center", fontsize=FONT_SIZE - 1, color="#777777")
            continue
        ax.barh(yi, hi, color="#c9d6ea", height=0.55)
        if hi > lo:
            ax.barh(yi, hi - lo, left=lo, color=COLOURS[0], height=0.55)
        span = f"{lo:,}" if lo == hi else f"{lo:,}\u2013{hi:,}"
        ax.text(hi + peak * 0.02, yi, f"{span}{present}", va="center", fontsize=FONT_SIZE - 1)
    ax.set_yticks(y, [_shorten(f[0], 36) for f in features])
    ax.invert_yaxis()
    ax.set_xlim(0, peak * 1.6)
    ax.set_xlabel("values per record")
    ax.set_title(title, loc="left")
    ax.grid(axis="y", visible=False)
    _thousands(ax)
    return _svg(fig)

"""The live display of a running job, in the launching process: what the workers count
(prep.jobs.progress), summed over them, as one line per stage with done / total, rate and time left.

- On a terminal: the stages' lines redrawn in place (rich's Live display, which hides the cursor and
  redraws; no control codes are written here).
- Anywhere else (a CI log, `> file`): a plain line when a stage starts or ends, and at most every
  PLAIN_EVERY seconds while one runs; never a control character.
- With --quiet there is no display (prep.cli.jobs.job_display): the summary and errors only.

A `Watch` runs the display beside the job: a thread that asks its source for the counts every
`interval` seconds (the local workers' files, or a Dataflow job's counters: prep.jobs.progress).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prep.jobs.progress import STEP, Counts, Stage

PLAIN_EVERY = 30.0  # seconds between two plain lines while no stage starts or ends
REDRAW_EVERY = 0.5  # seconds between two looks at the counts on a terminal

MODES = ("live", "plain")


def duration(seconds: float) -> str:
    if seconds < 0.5:
        return "<1 s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class _State:
    """What the display knows of a stage: when it was first seen moving, its done and total."""

    started: float | None = None
    first: tuple[int, int] = (0, 0)  # what was done when it was first seen: its done and rate counts
    done: int = 0
    total: int | None = None
    ended: float | None = None  # when it was first seen done


class StageLines:
    """The text of each stage's line from the counts, with rates and time left measured from when the
    stage was first seen moving. `now` is injectable for tests."""

    def __init__(self, stages: tuple[Stage, ...], now: Callable[[], float] = time.monotonic):
        self.stages, self.now = stages, now
        self.states = {stage.label: _State() for stage in stages}

    def update(self, counts: Counts) -> list[tuple[Stage, _State]]:
        """Takes new counts; returns the stages seen so far, in order, with their states."""
        now = self.now()
        seen = []
        for stage in self.stages:
            state = self.states[stage.label]
            state.done = sum(counts.counts.get(key, 0) for key in stage.done)
            state.total = stage.total_of(counts)
            if state.started is None and (state.done or counts.counts.get(stage.started_by, 0)):
                state.started = now
                state.first = (state.done, counts.counts.get(stage.rate[0], 0) if stage.rate else 0)
            if state.ended is None and state.done >= (1 if stage.unit == STEP else state.total or float("inf")):
                state.ended = now
                state.started = now if state.started is None else state.started
            if state.started is not None:
                seen.append((stage, state))
        return seen

    def finish(self) -> list[tuple[Stage, _State]]:
        """The job succeeded: every stage it has is done (the last counts of a worker that stopped may
        not have reached the display), and those with a total reached it."""
        now = self.now()
        for stage in self.stages:
            state = self.states[stage.label]
            if state.started is None and stage.unit != STEP:
                continue
            state.started = now if state.started is None else state.started
            state.done = state.total if state.total is not None else max(state.done, 1 if stage.unit == STEP else 0)
            state.ended = now if state.ended is None else state.ended
        return [(stage, self.states[stage.label]) for stage in self.stages if self.states[stage.label].started is not None]

    def text(self, stage: Stage, state: _State, counts: Counts) -> str:
        """`converting: 6,456 of 20,000 images (32%), 714 images/s, 19 s left` (the parts it can know)."""
        if stage.unit == STEP:
            return f"{stage.label}: {'done' if state.ended is not None else 'running'}"
        parts = [f"{state.done:,} of {state.total:,} {stage.unit} ({100 * state.done / max(state.total, 1):.0f}%)"
                 if state.total is not None else f"{state.done:,} {stage.unit}"]
        elapsed = (state.ended or self.now()) - state.started if state.started is not None else 0.0
        for key, name in stage.also:
            if counts.counts.get(key):
                parts.append(f"{counts.counts[key]:,} {name}")
        # rates over what was done while the display watched (a stage first seen half done is not credited
        # with the first half in no time)
        rate = (state.done - state.first[0]) / elapsed if elapsed >= 1 and stage.rate != () else 0.0
        if rate:
            rate_key, rate_name = stage.rate or (None, stage.unit)
            shown = (counts.counts.get(rate_key, 0) - state.first[1]) / elapsed if rate_key else rate
            parts.append(f"{shown:,.0f} {rate_name}/s")
        if state.ended is not None:
            parts.append(f"in {duration(elapsed)}")
        elif rate and state.total is not None and state.total > state.done:
            parts.append(f"{duration((state.total - state.done) / rate)} left")
        return f"{stage.label}: {', '.join(parts)}"


class Display:
    """Shows `stages` on `stream` as `mode` says (MODES); `update(counts)` as often as counts arrive."""

    def __init__(self, stages: tuple[Stage, ...], stream, mode: str, now: Callable[[], float] = time.monotonic):
        if mode not in MODES:
            raise ValueError(f"unknown display mode {mode!r}")
        self.lines = StageLines(stages, now)
        self.stream, self.mode, self.now = stream, mode, now
        self._last_plain: float | None = None
        self._last_shape: tuple = ()
        self._live = self._bars = None
        self._tasks: dict[str, int] = {}
        self._counts = Counts()
        if mode == "live":
            self._start_live()

    def _start_live(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.progress import BarColumn, Progress, TextColumn

        console = Console(file=self.stream, force_terminal=True, soft_wrap=False)
        self._bars = Progress(TextColumn("  "), BarColumn(bar_width=24), TextColumn("{task.description}"),
                              console=console, auto_refresh=False)
        self._live = Live(self._bars, console=console, auto_refresh=False, transient=False)
        self._live.start()

    def update(self, counts: Counts) -> None:
        self._counts = counts
        self._show(self.lines.update(counts))

    def finish(self) -> None:
        """The job succeeded: its stages are shown done (StageLines.finish)."""
        self._show(self.lines.finish())

    def _show(self, seen: list) -> None:
        counts = self._counts
        if self.mode == "live":
            for stage, state in seen:
                text = self.lines.text(stage, state, counts)
                if stage.label not in self._tasks:
                    self._tasks[stage.label] = self._bars.add_task(text, total=None)
                ended = state.ended is not None
                total = state.total if state.total is not None else (max(state.done, 1) if ended else None)
                self._bars.update(self._tasks[stage.label], description=text, completed=total if ended else state.done,
                                  total=total)
            self._live.refresh()
        elif self.mode == "plain":
            shape = tuple((stage.label, state.ended is not None) for stage, state in seen)
            now = self.now()
            if shape != self._last_shape or (seen and (self._last_plain is None or now - self._last_plain >= PLAIN_EVERY)):
                changed = [(s, st) for s, st in seen if (s.label, st.ended is not None) not in self._last_shape]
                running = [(s, st) for s, st in seen if st.ended is None] or seen[-1:]
                for stage, state in changed or running:
                    self.stream.write(f"  {self.lines.text(stage, state, counts)}\n")
                self.stream.flush()
                self._last_plain, self._last_shape = now, shape

    @property
    def live(self) -> bool:
        return self.mode == "live"

    def say(self, line: str) -> None:
        """A line of the command's own output, above the live lines on a terminal."""
        if self._live is not None:
            self._live.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def display_mode(stream) -> str:
    """"live" on a terminal, "plain" elsewhere."""
    isatty = getattr(stream, "isatty", None)
    return "live" if isatty is not None and isatty() else "plain"


class Watch:
    """While the block runs, a thread reads the counts from `source()` every `interval` seconds and
    shows them on `display`; the last counts are shown once more when it ends."""

    def __init__(self, display: Display, source: Callable[[], Counts], interval: float = REDRAW_EVERY):
        self.display, self.source, self.interval = display, source, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prep-progress", daemon=True)

    def _show(self) -> None:
        try:
            self.display.update(self.source())
        except Exception:  # a half-written count or a failed poll: the next look tries again
            pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._show()

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, kind, *_) -> None:
        self._stop.set()
        self._thread.join()
        self._show()
        if kind is None:
            self.display.finish()
        self.display.close()

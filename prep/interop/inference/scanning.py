"""Reading the files: every record of a file, or a bounded sample of it (its first records, plus a few
records found at evenly spaced offsets of a large uncompressed file), into statistics. A bad file (not
TFRecord framing, a bad CRC, SequenceExample records) is not an error: its scan says what is wrong."""

from __future__ import annotations

import contextlib
import functools
import itertools
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Sequence

from prep.core.failures import CONVERSION_ERROR, unforeseen
from prep.core.splits import DEFAULT_SPLIT
from prep.interop.inference.feature_stats import RecordStats
from prep.interop.inference.files import FileEntry, unplaced_problem
from prep.interop.inference.options import SampleOptions
from prep.interop.inference.record_parser import RecordProblem
from prep.records import tfrecord_io

MAX_PROBE_BYTES = 8 * 2**20  # largest window read at one place inside a file while sampling


@dataclass
class FileScan:
    """What reading one file found: `records` read, `complete` when read to its end (so `records` is its
    count), `problem`/`reason` when the file is left out, and the records' statistics. `samples` holds
    the first records as they are, when asked for (to check them against a given spec)."""

    entry: FileEntry
    compression: str
    records: int = 0
    complete: bool = False
    problem: str | None = None
    reason: str | None = None
    stats: RecordStats = field(default_factory=RecordStats)
    samples: list[bytes] = field(default_factory=list)
    head_bytes: int = 0  # bytes of the uncompressed stream the first records took
    largest: int = 0  # bytes of the largest record read


def _problem_of(error: tfrecord_io.RecordError, compression: str) -> tuple[str, str]:
    if error.index == 0 and compression == "none" and error.kind in ("length_crc", "bad_length", "truncated_header"):
        return ("not TFRecord framing: its first bytes are not a TFRecord record header (is it a TFRecord file? "
                "a compressed one would have been recognised)", "not_tfrecord")
    if error.kind in ("length_crc", "data_crc"):
        return f"bad CRC at record {error.index} (byte {error.offset}): the file is damaged; write it again", "bad_crc"
    return f"damaged at record {error.index} (byte {error.offset}): {error.problem}", "damaged"


def _add_records(scan: FileScan, records: Iterable[bytes], keep: int) -> None:
    for data in records:
        try:
            scan.stats.add(data)
        except RecordProblem as e:
            raise RecordProblem(f"record {scan.records} {e.problem}", e.reason) from None
        if len(scan.samples) < keep:
            scan.samples.append(data)
        scan.records += 1
        scan.largest = max(scan.largest, len(data))


def scan_file(entry: FileEntry, sample: SampleOptions | None, keep: int = 0) -> FileScan:
    """Reads one file: every record (`sample` None) or a sample of it; never raises for a bad file, the
    scan says what is wrong with it instead."""
    try:
        compression = tfrecord_io.detect_compression(entry.path)
    except Exception as e:  # noqa: BLE001 - an unreadable file is reported, not fatal
        return FileScan(entry, "none", problem=f"cannot read it: {e}", reason="unreadable")
    scan = FileScan(entry, compression)
    try:
        with contextlib.closing(tfrecord_io.read_records(entry.path, compression)) as records:
            if sample is None:
                _add_records(scan, records, keep)
                scan.complete = True
            else:
                _add_records(scan, _head(records, sample, scan), keep)
        if not scan.complete and compression == "none" and entry.size:
            _add_records(scan, _probe_records(entry.path, scan.head_bytes, entry.size, sample, scan.largest), 0)
    except tfrecord_io.RecordError as e:
        scan.problem, scan.reason = _problem_of(e, compression)
    except RecordProblem as e:
        scan.problem, scan.reason = e.problem, e.reason
    except OSError as e:
        scan.problem, scan.reason = f"cannot read it: {e}", "unreadable"
    except Exception as e:  # no single file may stop the inference: prep.core.failures
        return FileScan(entry, compression, problem=unforeseen(e), reason=CONVERSION_ERROR)
    return scan


def _head(records: Iterator[bytes], sample: SampleOptions, scan: FileScan) -> Iterator[bytes]:
    """The first records, within the sample's limits; marks the scan complete if that is all of them."""
    taken = 0
    for data in records:
        yield data
        taken += 1
        scan.head_bytes += len(data) + 16
        if taken >= sample.head_records or scan.head_bytes >= sample.head_bytes:
            break
    else:
        scan.complete = True
        return
    if next(records, None) is None:
        scan.complete = True


def _probe_records(path: str, head: int, size: int, sample: SampleOptions, largest: int) -> Iterator[bytes]:
    """Records found in windows at evenly spaced offsets after the first `head` bytes of an uncompressed
    file of `size` bytes, the last window ending at the end of the file. A window is `probe_bytes`, or
    large enough for two of the `largest` records seen so far (up to MAX_PROBE_BYTES)."""
    from apache_beam.io.filesystems import FileSystems

    window = min(max(sample.probe_bytes, 2 * (largest + 16)), MAX_PROBE_BYTES)
    if size <= head + window or not sample.probes:
        return
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        for i in range(1, sample.probes + 1):
            offset = head + (size - head - window) * i // sample.probes
            handle.seek(offset)
            yield from itertools.islice(records_in(handle.read(window)), sample.probe_records)


def records_in(window: bytes) -> Iterator[bytes]:
    """The whole records in a window cut from anywhere in an uncompressed TFRecord file.

    The first record start is where a length header's CRC matches and the data's CRC matches too (a
    chance match of both is ~2**-64); from there records follow one another until the window ends or a
    record does not check out.
    """
    crc = tfrecord_io._crc32c_fn()
    masked = tfrecord_io._masked_crc
    header = tfrecord_io._HEADER
    end = len(window)

    def record_at(pos: int) -> bytes | None:
        if pos + 16 > end:
            return None
        length, length_crc = header.unpack_from(window, pos)
        if length + pos + 16 > end or masked(crc(window[pos:pos + 8])) != length_crc:
            return None
        data = window[pos + 12: pos + 12 + length]
        if masked(crc(data)) != int.from_bytes(window[pos + 12 + length: pos + 16 + length], "little"):
            return None
        return data

    pos = 0
    while pos + 16 <= end:
        # A length below 2**40 has three zero high bytes: jump to the places that could be a header.
        found = window.find(b"\x00\x00\x00", pos + 5)
        if found < 0:
            return
        pos = found - 5
        data = record_at(pos)
        if data is not None:
            break
        pos += 1
    else:
        return
    while data is not None:
        yield data
        pos += len(data) + 16
        data = record_at(pos)


def scan_files(entries: Sequence[FileEntry], sample: SampleOptions | None, keep: int = 0,
               threads: int = 16) -> list[FileScan]:
    """Scans files in parallel threads (reading is I/O: gs:// above all), in the order given; then
    places the files whose names place them in no split (`place_unplaced`)."""
    from concurrent.futures import ThreadPoolExecutor

    if len(entries) <= 1:
        return place_unplaced([scan_file(e, sample, keep) for e in entries])
    with ThreadPoolExecutor(max_workers=min(threads, len(entries))) as pool:
        return place_unplaced(list(pool.map(lambda e: scan_file(e, sample, keep), entries)))


def place_unplaced(scans: list[FileScan]) -> list[FileScan]:
    """The scans with each readable file that its name places in no split (split None) left out, saying
    how to include it; a file that could not be read keeps its own problem. When no file placed by its
    name is readable (say a `notes_train.txt` beside unnamed shards), the unplaced ones go to 'train',
    as they would have without it."""
    unplaced = [s for s in scans if s.entry.split is None and s.problem is None]
    if not unplaced:
        return scans
    placed = sorted({s.entry.split for s in scans if s.entry.split is not None and s.problem is None})
    for scan in unplaced:
        if placed:
            scan.problem, scan.reason = unplaced_problem(scan.entry.relative, placed), "no_split"
        else:
            scan.entry = replace(scan.entry, split=DEFAULT_SPLIT)
    return scans


def merged_stats(scans: Iterable[FileScan]) -> RecordStats:
    """The statistics of every usable file's records together."""
    return functools.reduce(lambda a, b: a.merge(b), (s.stats for s in scans if s.problem is None), RecordStats())


def merge_scans(sampled: Sequence[FileScan], full: Sequence[FileScan]) -> list[FileScan]:
    """The sampled scans with each file that was read in full replaced by its full scan: counts, shapes
    and presence then come from every record; files the sample left out stay out."""
    by_path = {s.entry.path: s for s in full}
    return [by_path.get(s.entry.path, s) for s in sampled]

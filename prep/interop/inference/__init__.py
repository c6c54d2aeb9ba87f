"""Schema inference for TFRecords prep did not write (`prep schema infer`): what every key of the records
holds, from the records.

The steps, one module each: `files` lists the files and places each in a split; `scanning` reads a
bounded sample of every file (or, with `--full`, beam_jobs/infer.py has it read every record), parsing
each record with `record_parser` and counting what it holds in `feature_stats`; `rules` turns the
statistics of each key into a schema feature that parses every record seen; `assembly` puts the schema
of the files together. `options` holds the options the CLI builds, `errors` the error a user reads.

Per-file problems leave that file out and are reported; when no file is usable the problems are the
error. Pure Python apart from Beam's FileSystems (local or gs://) and Pillow, so the functions run the
same on the launcher and on Beam workers. May import prep.images, prep.jobs, prep.core, prep.records and
schemas. Within the package a module imports only those before it in: errors, options, files,
record_parser, feature_stats, scanning, rules, assembly.

The names below are what callers run as `inference.locate_files(...)`; anything else is imported from
the module that owns it.
"""

from prep.interop.inference.assembly import build_inference, describe_files, infer_sampled, rejected_lines
from prep.interop.inference.errors import InferenceError
from prep.interop.inference.files import FileEntry, locate_files, split_of_name
from prep.interop.inference.options import InferOptions, SampleOptions
from prep.interop.inference.rules import propose_label_key, sniffed_encodings
from prep.interop.inference.scanning import merge_scans, scan_file, scan_files

__all__ = [
    "FileEntry", "InferOptions", "InferenceError", "SampleOptions", "build_inference",
    "describe_files", "infer_sampled", "locate_files", "merge_scans", "propose_label_key", "rejected_lines",
    "scan_file", "scan_files", "sniffed_encodings", "split_of_name",
]

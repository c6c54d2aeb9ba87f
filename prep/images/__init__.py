"""Images: probing, decoding and normalising one image (Pillow), labels from manifests and detection
annotations (and boxes that follow the pixels), its record and schema features, and what an image job
concludes from its results.

Plain per-record Python, unit-tested without Beam; beam_jobs.images composes it into a pipeline.
May import prep.jobs, prep.core, prep.records and schemas; never prep.text, prep.inspection, interop,
the CLI or beam_jobs.
"""

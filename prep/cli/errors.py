"""The exceptions that mean "the user's input is wrong": the CLI prints them as one line, exit code 2."""

from __future__ import annotations

from prep.core.launcher_reads import UnreadableFile
from prep.core.preflight import PreflightError
from prep.jobs.outdir import OutputExistsError
from prep.jobs.runner import BeamFlagError
from schemas import SchemaError
from schemas.guarded_write import ChangedFileError

USER_ERRORS = (PreflightError, OutputExistsError, SchemaError, BeamFlagError, ChangedFileError, UnreadableFile)

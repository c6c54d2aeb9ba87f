"""The error of schema inference: files that no schema describes, with a message a person acts on."""


class InferenceError(ValueError):
    """The files cannot be described by a schema; the message names the files and what to do."""

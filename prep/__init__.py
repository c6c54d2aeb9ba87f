"""prep: raw data to sharded TFRecords with schemas, and back into training."""

__version__ = "0.1.0"

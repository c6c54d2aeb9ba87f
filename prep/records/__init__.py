"""The record format: TFRecord framing (length, masked CRC32C) and `tf.train.Example` encoding, in plain
Python so Beam workers need no TensorFlow.

The bottom layer of prep: imports only the standard library, google-crc32c and schemas.
"""

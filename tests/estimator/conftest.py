"""The Estimator tests run only where tensorflow-estimator is installed (TensorFlow <= 2.15), e.g.

    .venv-tf215/bin/pytest -q tests/estimator

Two logical CPU devices are made here, before TensorFlow starts its runtime, so that a MirroredStrategy
has two replicas and an input function must give each its per-replica batch."""

try:
    import tensorflow_estimator  # noqa: F401
except ImportError:
    pass
else:
    import tensorflow as tf

    try:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    except RuntimeError:  # the runtime already started (another test ran first): the test needing it skips
        pass

# Two commands do everything from nothing (a fresh machine with Python 3.11 and pip):
#   make demo   set up .venv, convert the UCI digits into a dataset, inspect and verify it
#   make test   set up .venv and .venv-tf215, lint, check the layers, run the test suite in both
#               (the TensorFlow-decodes test fetches the installed Pillow's sdist from PyPI into .cache/ once)
PYTHON ?= python3
VENV := .venv
VENV_TF215 := .venv-tf215
UV := uv==0.13.8
# uv installs what pip would (the same versions, checked against pip's freeze) in a quarter of the time
UV_INSTALL = $(1)/bin/uv pip install -q --python $(1)/bin/python --compile-bytecode
PYTEST := pytest -q -p no:cacheprovider
# the test files spread over every core (pytest-xdist), each file's tests in one process (its fixtures built once)
PARALLEL := -n auto --dist loadfile

.PHONY: demo test venv venv-tf215 clean

venv: $(VENV)/.installed
venv-tf215: $(VENV_TF215)/.installed

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q $(UV)
	$(call UV_INSTALL,$(VENV)) -c requirements/constraints.txt -e '.[test,demo,dataflow,interop,report]'
	# KerasHub's tokenizers, the oracle of the tokenizer tests: tensorflow-text requires the `tensorflow`
	# package, which is the TensorFlow that tensorflow-cpu already installed, so none brings its dependencies;
	# keras_hub imports tokenizers and sentencepiece (both prep's own) at import time; the rest it needs, TensorFlow has
	$(call UV_INSTALL,$(VENV)) -c requirements/constraints.txt --no-deps keras-hub tensorflow-text tokenizers
	touch $@

# TensorFlow 2.15 with tensorflow-estimator: where a real tf.estimator trains from prep's readers.
$(VENV_TF215)/.installed: pyproject.toml requirements/constraints-tf215.txt
	$(PYTHON) -m venv $(VENV_TF215)
	$(VENV_TF215)/bin/pip install --disable-pip-version-check -q $(UV)
	$(call UV_INSTALL,$(VENV_TF215)) -c requirements/constraints-tf215.txt tensorflow-cpu \
	    tensorflow-estimator 'apache-beam[tfrecord]' pillow click rich regex pytest pytest-xdist hypothesis google-crc32c
	$(call UV_INSTALL,$(VENV_TF215)) --no-deps -e .
	touch $@

demo: venv
	$(VENV)/bin/python -m prep.cli.demo

# The main suite prints its 20 slowest tests: CI has a 25-minute budget, and they are where it goes.
# .venv-tf215 is set up while the main suite runs (the install waits mostly on the network): its output
# goes to .venv-tf215.log, shown if it fails. Its suite runs after the main one: run beside it, the two
# took 3 minutes longer on 2 cores than one after the other.
test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	($(MAKE) --no-print-directory venv-tf215 > .venv-tf215.log 2>&1; echo $$? > .venv-tf215.status) & \
	$(VENV)/bin/$(PYTEST) $(PARALLEL) --durations=20 tests --ignore=tests/estimator; suite=$$?; wait; \
	if [ "$$(cat .venv-tf215.status)" != 0 ]; then cat .venv-tf215.log; exit 1; fi; exit $$suite
	$(VENV_TF215)/bin/$(PYTEST) $(PARALLEL) tests/estimator tests/readers/test_input_fn.py tests/readers/test_codegen.py \
	    tests/images/test_tensorflow_decodes.py tests/docs/test_readme_tf215.py

clean:
	rm -rf $(VENV) $(VENV_TF215) demo_out .cache .venv-tf215.log .venv-tf215.status

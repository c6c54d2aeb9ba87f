# Two commands do everything from nothing (a fresh machine with Python 3.11 and pip):
#   make demo   set up .venv, convert the UCI digits into a dataset, inspect and verify it
#   make test   set up .venv and .venv-tf215, lint, check the layers, run the test suite in both (at once)
#               (the TensorFlow-decodes test fetches the installed Pillow's sdist from PyPI into .cache/ once)
PYTHON ?= python3
VENV := .venv
VENV_TF215 := .venv-tf215
PIP_FLAGS := --disable-pip-version-check -q
PYTEST := pytest -q -p no:cacheprovider
# the test files spread over every core (pytest-xdist), each file's tests in one process (its fixtures built once)
PARALLEL := -n auto --dist loadfile

.PHONY: demo test venv venv-tf215 clean

venv: $(VENV)/.installed
venv-tf215: $(VENV_TF215)/.installed

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -c requirements/constraints.txt -e '.[test,demo,dataflow,interop,report]'
	touch $@

# TensorFlow 2.15 with tensorflow-estimator: where a real tf.estimator trains from prep's readers.
$(VENV_TF215)/.installed: pyproject.toml requirements/constraints-tf215.txt
	$(PYTHON) -m venv $(VENV_TF215)
	$(VENV_TF215)/bin/pip install $(PIP_FLAGS) -c requirements/constraints-tf215.txt tensorflow-cpu \
	    tensorflow-estimator 'apache-beam[tfrecord]' pillow click rich pytest pytest-xdist hypothesis google-crc32c
	$(VENV_TF215)/bin/pip install $(PIP_FLAGS) --no-deps -e .
	touch $@

demo: venv
	$(VENV)/bin/python -m prep.cli.demo

# .venv-tf215 is set up, and its suite run, while the main suite runs (pip waits mostly on the network,
# and the two suites keep both cores busy to the end): its output goes to .venv-tf215.log, shown after.
TF215_TESTS := tests/estimator tests/readers/test_input_fn.py tests/readers/test_codegen.py \
    tests/images/test_tensorflow_decodes.py tests/docs/test_readme_tf215.py

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	($(MAKE) --no-print-directory venv-tf215 > .venv-tf215.log 2>&1 && \
	    $(VENV_TF215)/bin/$(PYTEST) $(PARALLEL) $(TF215_TESTS) >> .venv-tf215.log 2>&1; echo $$? > .venv-tf215.status) & \
	$(VENV)/bin/$(PYTEST) $(PARALLEL) tests --ignore=tests/estimator; suite=$$?; wait; \
	echo "--- the suite in .venv-tf215 (TensorFlow 2.15, tf.estimator):"; cat .venv-tf215.log; \
	if [ "$$(cat .venv-tf215.status)" != 0 ]; then exit 1; fi; exit $$suite

clean:
	rm -rf $(VENV) $(VENV_TF215) demo_out .cache .venv-tf215.log .venv-tf215.status

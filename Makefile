# Two commands do everything from nothing (a fresh machine with Python 3.11 and pip):
#   make demo   set up .venv, convert a sample image folder, inspect and verify the dataset
#   make test   set up .venv, run the test suite
PYTHON ?= python3
VENV := .venv
PIP_FLAGS := --disable-pip-version-check -q -c requirements/constraints.txt

.PHONY: demo test venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[test,demo,dataflow,interop,report]'
	touch $@

demo: venv
	$(VENV)/bin/python -m prep.demo

test: venv
	$(VENV)/bin/pytest -q -p no:cacheprovider tests

clean:
	rm -rf $(VENV) demo_out

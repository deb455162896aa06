# The two commands a newcomer needs: `make demo` and `make test`. Everything else is installed on the way.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test install bench clean-venv

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(INSTALLED)  ## virtualenv + Python packages (the jars, registry, S3 and SMSC are fetched by `courrier infra up`)

demo: $(INSTALLED)  ## fetch and start the real parts, run every stage, send 1,000 messages, print their outcomes
	$(VENV)/bin/courrier infra fetch
	$(VENV)/bin/courrier demo

test: $(INSTALLED)  ## the whole suite against the real parts (started once per session)
	$(VENV)/bin/courrier infra fetch
	$(PY) -m pytest

bench: $(INSTALLED)  ## end-to-end throughput of the chain next to a raw passthrough
	$(VENV)/bin/courrier bench chain

clean-venv:
	rm -rf $(VENV)

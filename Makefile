# Two self-sufficient commands on a fresh clone (README "Set up"): each first creates .venv, or updates it when
# pyproject.toml changed since the last install (the stamp file), with plain venv + pip.
#   make quickstart   the main job: retlab run --config configs/quickstart.yaml
#   make test         the test suite, offline
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.retlab-installed

.PHONY: quickstart test venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -e ".[dev]"
	touch $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/retlab run --config configs/quickstart.yaml

test: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(VENV)/bin/python -m pytest -q

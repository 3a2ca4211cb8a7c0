# Two commands on a fresh machine (only Python 3.11+ and make assumed):
#   make run    installs everything, starts Temporal (dev server + Web UI), the worker and the API
#   make test   installs everything and runs the test suite

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

# Python comes from $(PYTHON), never a download; packages come from PyPI.
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint format bench clean

install:
	@if [ "$$($(UV) --version 2>/dev/null | cut -d' ' -f2)" != "$(UV_VERSION)" ]; then \
		echo "installing uv $(UV_VERSION) into $(TOOLS)/"; \
		$(PYTHON) -m venv $(TOOLS) && \
		$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; \
	fi
	$(UV) sync --frozen --all-groups --python $(PYTHON)
	@# The workflow sandbox re-imports workflow modules for every case: give it bytecode to load.
	@$(PY) -m compileall -q activities models policy rules services store workflows >/dev/null

run: install
	$(PY) -m scripts.run

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: install
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf data/

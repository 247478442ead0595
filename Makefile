# commshub: `make run` starts the simulated hub, `make test` runs both test suites.
# Both bootstrap a pinned toolchain into .venv on first use (needs only python3 and make).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MPLIB := $(VENV)/mplib
MICROPYTHON := $(BIN)/micropython
HEAP ?= 110wK

.PHONY: all bootstrap run test test-host test-device lint format clean

all: test

bootstrap: $(VENV)/.bootstrapped

$(VENV)/.bootstrapped: requirements.txt tools/fetch_mplib.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python tools/fetch_mplib.py $(MPLIB)
	touch $@

run: bootstrap
	$(BIN)/python tools/lab.py $(LAB_ARGS)

test: bootstrap
	$(BIN)/python tools/run_tests.py --micropython $(MICROPYTHON) --mplib $(MPLIB) --heap $(HEAP)

test-host: bootstrap
	$(BIN)/python -m pytest

test-device: bootstrap
	$(BIN)/python tools/run_tests.py --device-only --micropython $(MICROPYTHON) --mplib $(MPLIB) --heap $(HEAP)

lint: bootstrap
	$(BIN)/ruff check .

format: bootstrap
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) build lab

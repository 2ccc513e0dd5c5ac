# The two commands of the README, and the tools behind them.
# Everything installs into .venv; a change to pyproject.toml reinstalls.
# Two stamps: `make run` (and `make install`, the server's) installs only what the
# daemon needs; `make test`, `make lint` and the benchmarks add the test extras
# (pytest, hypothesis, playwright, ruff, mypy: most of the venv's size and time).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYPROJECT_SUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUNTIME_STAMP := $(VENV)/.runtime-$(PYPROJECT_SUM)
TEST_STAMP := $(VENV)/.test-$(PYPROJECT_SUM)
# --no-compile: the daemon byte-compiles the few modules it imports on first use;
# compiling every installed file up front cost seconds nobody waits for twice.
PIP := $(BIN)/pip install --quiet --disable-pip-version-check --no-compile
TRIAL_CONFIG := config/trial.toml

.PHONY: run test lint bench bench-routing bench-sidebyside bench-explain bench-import bench-reads bench-replies bench-inbox install install-test clean

$(RUNTIME_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "callbridge needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	@# The pip a venv is born with (23.2 with Python 3.11.7) spends most of an install
	@# judging every file of every index page; a current one takes a third of the CPU
	@# (docs/BENCHMARKS.md, «make run on a fresh clone»).
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) -e .
	@rm -f $(VENV)/.runtime-* $(VENV)/.installed-*
	@touch $@

$(TEST_STAMP): $(RUNTIME_STAMP)
	$(PIP) -e '.[test]'
	@rm -f $(VENV)/.test-*
	@touch $@

install: $(RUNTIME_STAMP)

# The daemon and the test extras: what `make test` installs.
install-test: $(TEST_STAMP)

# Starts the daemon. Without CALLBRIDGE_CONFIG it uses the trial settings
# (demo secrets, embedded PostgreSQL under ./state).
run: $(RUNTIME_STAMP)
	CALLBRIDGE_CONFIG=$${CALLBRIDGE_CONFIG:-$(TRIAL_CONFIG)} $(BIN)/callbridge run

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

# Static checks (CI runs them before the tests): ruff with pyproject's rule set,
# mypy on daemon/, adapters/ and config/ (pyproject's [tool.mypy]).
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The event pipeline benchmark (bench/README.md): a throw-away database on the
# PostgreSQL at 127.0.0.1:5432, the daemon driven with whole signed calls;
# results go into docs/BENCHMARKS.md. `make bench BENCH_ARGS=--quick` for a short run.
bench: $(TEST_STAMP)
	$(BIN)/python -m bench.suite $(BENCH_ARGS)

# The routing benchmark (docs/BENCHMARKS.md): a throw-away database with a
# million contacts on the PostgreSQL at 127.0.0.1:5432, dropped at the end.
bench-routing: $(TEST_STAMP)
	$(BIN)/python -m bench.routing

# The side-by-side comparison: callbridge against the bare reference receiver
# (bench/reference), same open-loop load, alternating; writes docs/BENCHMARKS.md.
bench-sidebyside: $(TEST_STAMP)
	$(BIN)/python -m bench.sidebyside $(BENCH_ARGS)

# The hot queries' plans (EXPLAIN ANALYZE) at a million contacts and two million
# calls, with this build's indexes and those before migration 0004 (bench/README.md).
bench-explain: $(TEST_STAMP)
	$(BIN)/python -m bench.suite.explain $(BENCH_ARGS)

clean:
	rm -rf $(VENV) state .pytest_cache .hypothesis

# The contact import benchmark (docs/BENCHMARKS.md): a messy 100,000-row .xlsx imported
# twice by the real console script into a throw-away database on 127.0.0.1:5432.
# `make bench-import IMPORT_ARGS="--rows 1000000"` for the million.
bench-import: $(TEST_STAMP)
	$(BIN)/python -m bench.contacts_import $(IMPORT_ARGS)

# The reads a person opens (analytics by each grouping, duplicates, the missed report,
# lost clients, a lookup) on a mid-size agency's data set loaded through the product's
# store function, p50/p95 over HTTP (docs/BENCHMARKS.md, «Reads»). A throw-away database
# on 127.0.0.1:5432. `make bench-reads READS_ARGS=--million` for ten times the data.
bench-reads: $(TEST_STAMP)
	$(BIN)/python -m bench.reads $(READS_ARGS)

# Replies (docs/BENCHMARKS.md, «Replies»): the real daemon, a stand-in Telegram API, 2,000
# replies at 1 and 10 in flight; the 202's latency and the time to the provider.
bench-replies: $(TEST_STAMP)
	$(BIN)/python -m bench.replies $(REPLIES_ARGS)

# The inbox with 10,000 open items (bench/inbox): GET /api/inbox and one sweep pass.
bench-inbox: $(TEST_STAMP)
	$(BIN)/python -m bench.inbox $(INBOX_ARGS)

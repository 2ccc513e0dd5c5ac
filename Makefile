# The two commands of the README, and the tools behind them.
# Everything installs into .venv; a change to pyproject.toml reinstalls.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TRIAL_CONFIG := config/trial.toml

.PHONY: run test bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "callbridge needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# Starts the daemon. Without CALLBRIDGE_CONFIG it uses the trial settings
# (demo secrets, embedded PostgreSQL under ./state).
run: $(STAMP)
	CALLBRIDGE_CONFIG=$${CALLBRIDGE_CONFIG:-$(TRIAL_CONFIG)} $(BIN)/callbridge run

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) state .pytest_cache .hypothesis

# Two entry points for a fresh machine: `make demo` (the offline rehearsal) and `make test`;
# `make run` runs the bot for real (it needs a config.toml).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo run test lint install browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# RaceDesk's whole job offline: a fake racetime.gg and a simulated Discord server.
demo: $(STAMP)
	$(BIN)/python bot.py --demo $(ARGS)

run: $(STAMP)
	$(BIN)/python bot.py $(ARGS)

# asyncio debug mode: never-awaited coroutines, slow callbacks and leaked tasks are reported.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	PYTHONASYNCIODEBUG=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian's chromium and chromium-driver for tests/web/test_link_in_browser.py (run as root).
# Where they cannot be installed (no apt, no network) this warns and the rest still runs;
# the browser test then skips and says why.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium chromium-driver) \
		|| echo "WARNING: could not install chromium and chromium-driver;" \
			"the browser test will skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# Every benchmark, then one table of figures against their targets (bench/suite.py);
# ARGS=--quick runs each small, as CI does.
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

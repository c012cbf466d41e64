# Two entry points for a fresh machine: `make demo` (the offline rehearsal) and `make test`;
# `make run` runs the bot for real (it needs a config.toml).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo run test lint install bench clean

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
	PYTHONASYNCIODEBUG=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench.race_data
	$(BIN)/python -m bench.metrics
	$(BIN)/python -m bench.rooms --rooms 1000
	$(BIN)/python -m bench.hostile
	$(BIN)/python -m bench.crash --kills 20 --listener-delay 0
	$(BIN)/python -m bench.crash --kills 20 --listener-delay 1.0
	$(BIN)/python -m bench.notify --count 5000
	$(BIN)/python -m bench.room_open --matches 200
	$(BIN)/python -m bench.room_open --matches 200 --processes 2

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

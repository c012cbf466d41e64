# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

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
	$(BIN)/python -m bench.rooms --rooms 1000
	$(BIN)/python -m bench.hostile
	$(BIN)/python -m bench.crash --kills 20 --listener-delay 0
	$(BIN)/python -m bench.crash --kills 20 --listener-delay 1.0

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

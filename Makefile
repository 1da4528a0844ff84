# Two entry points (see README): `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench clean-state

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $(STAMP)

install: $(STAMP)

# Demo station: synthetic camera, bundled model, embedded OPC UA server, SQLite under var/.
# Opens the operator window when a display is present, otherwise runs headless.
run: $(STAMP)
	$(BIN)/inspect-app demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check .

clean-state:
	rm -rf var

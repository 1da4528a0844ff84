# Two entry points (see README): `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench clean-state install install-genicam

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $(STAMP)

install: $(STAMP)

# GigE Vision / USB3 Vision cameras (docs/cameras.md): needs Debian's gir1.2-aravis-0.8 and the PyGObject build
# headers (libgirepository1.0-dev libcairo2-dev pkg-config gcc) first; `make install` alone does not need them.
install-genicam: $(STAMP)
	$(BIN)/pip install -q -e '.[genicam]'

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

# fhirflow — every set-up step lives here, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
HAPI   := docker/hapi/hapi.sh
HAPI_PORT ?= 8080

.PHONY: install hapi-build hapi-up hapi-down test lint typecheck unit demo demo-stop bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) hapi-build

hapi-build:
	bash $(HAPI) build

hapi-up: hapi-build
	bash $(HAPI) up --port $(HAPI_PORT)

hapi-down:
	bash $(HAPI) down --port $(HAPI_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not hapi and not airflow"

# The whole suite: lint, types, unit tests, and the tests against the real HAPI server and Airflow.
test: install lint typecheck
	$(BIN)/pytest

demo: install
	$(BIN)/python docker/demo.py

demo-stop:
	$(BIN)/python docker/demo.py --stop

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache

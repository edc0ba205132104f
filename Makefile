# fhirflow — every set-up step lives here, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
# The modules mypyc compiles (pyproject [tool.fhirflow] native). COMPILE=0 runs everything as pure
# Python (e.g. `make test COMPILE=0`): the compiled modules are removed instead of built.
NATIVE_SRC := $(shell $(PYTHON) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['tool']['fhirflow']['native']))")
COMPILE ?= 1
NATIVE := build/.native-$(COMPILE)
HAPI   := docker/hapi/hapi.sh
HAPI_PORT ?= 8080

.PHONY: install native hapi-build hapi-up hapi-down test lint typecheck unit demo demo-stop bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	FHIRFLOW_COMPILE=0 $(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

# Compiled in place, next to the sources, whenever one of them (or the build hook) changed: a
# compiled module left older than its .py would shadow the edit (tests/conftest.py refuses to run then).
# The touch: build_ext skips the C compiler when mypyc wrote the same C again, and copies the old file.
$(NATIVE): $(STAMP) $(NATIVE_SRC) setup.py
ifeq ($(COMPILE),0)
	find etl -name '*.so' -delete
else
	$(BIN)/python setup.py -q build_ext --inplace
	find etl -name '*.so' -exec touch {} +
endif
	mkdir -p build && rm -f build/.native-* && touch $@

native: $(NATIVE)

install: $(STAMP) $(NATIVE) hapi-build

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

unit: $(STAMP) $(NATIVE)
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
	find etl -name '*.so' -delete

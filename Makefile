# fhirflow — every set-up step lives here, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Installs come from uv.lock (`uv sync --locked`): a fresh machine gets exactly what CI tested. The
# stamp changes with pyproject.toml and the lock, so editing either reinstalls. uv itself is pinned
# here and in the lock (the dev extra), so the bootstrap and the synced environment agree.
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml uv.lock | cksum | cut -d' ' -f1)
# The modules mypyc compiles (pyproject [tool.fhirflow] native). COMPILE=0 runs everything as pure
# Python (e.g. `make test COMPILE=0`): the compiled modules are removed instead of built.
NATIVE_SRC := $(shell $(PYTHON) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['tool']['fhirflow']['native']))")
COMPILE ?= 1
NATIVE := build/.native-$(COMPILE)
HAPI   := docker/hapi/hapi.sh
HAPI_PORT ?= 8080

.PHONY: install lock test-latest native postgres-up postgres-down hapi-build hapi-up hapi-down test lint typecheck unit demo demo-stop bench bench-scale bench-load clean

$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	FHIRFLOW_COMPILE=0 UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync -q --locked --extra dev --compile-bytecode --python $(BIN)/python
	rm -f $(VENV)/.installed-* && touch $@

# The lock is refreshed on purpose (`make lock`), never as a side effect of an install.
lock:
	$(BIN)/uv lock

# Drift check: the newest releases pyproject.toml allows, resolved now without the lock, in their own
# environment (.venv-latest), against the same tests. What breaks here breaks a user tomorrow.
LATEST := .venv-latest
test-latest: $(NATIVE)
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	FHIRFLOW_COMPILE=0 $(LATEST)/bin/uv pip install -q --python $(LATEST)/bin/python --refresh --upgrade -e ".[dev]"
	$(LATEST)/bin/python -c "import lxml.etree as e; print('lxml', e.__version__, 'libxml2', e.LIBXML_VERSION)"
	FHIRFLOW_TEST_VAR=$(CURDIR)/var/test-latest $(LATEST)/bin/pytest

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

# PostgreSQL 15 (Debian's) for the run-state database tests; tests/conftest.py starts it too.
PG_PORT ?= 55432
postgres-up:
	bash docker/postgres/pg.sh up --port $(PG_PORT)

postgres-down:
	bash docker/postgres/pg.sh down --port $(PG_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(NATIVE)
	$(BIN)/pytest -m "not hapi and not airflow"

# The whole suite: lint, types, unit tests, and the tests against the real HAPI server, PostgreSQL
# and Airflow.
test: install lint typecheck postgres-up
	$(BIN)/pytest; rc=$$?; bash docker/postgres/pg.sh down --port $(PG_PORT); exit $$rc

demo: install
	$(BIN)/python docker/demo.py

demo-stop:
	$(BIN)/python docker/demo.py --stop

bench: install
	$(BIN)/python bench/run.py

# Peak RSS at 600,000 and 2,000,000 claims only (docs/benchmarks.md): ~10 min on 2 cores, 2.3 GB of
# generated input kept in bench/.data, up to ~8 GB of output there while a run lasts.
bench-scale: install
	$(BIN)/python bench/run.py --only x12-scale --scale-claims 600000,2000000

# $import against transaction Bundles into fresh HAPI servers on H2 and PostgreSQL (docs/benchmarks.md):
# ~30-40 min on 2 busy cores. BENCH_HAPI_PORT: the servers take the 5 ports after it (PostgreSQL: +37200).
BENCH_HAPI_PORT ?= 8090
bench-load: install
	$(BIN)/python bench/run.py --only load --load-baseline --load-port $(BENCH_HAPI_PORT) --json bench/.data/load.json

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find etl -name '*.so' -delete

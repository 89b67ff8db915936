# The two commands of the README: `make demo` runs the product on demo data, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# `make demo DEMO_STORE=… DEMO_ARGS='--port 8001'` moves it out of the way.
DEMO_STORE ?= citytools-demo-data
DEMO_ARGS ?=
demo: install
	$(BIN)/citytools serve --demo --store $(DEMO_STORE) $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow the editable install's import hook, so it reads a symlink tree laid out
# like the installed package (citytools.service <- service/, ...), rebuilt on each run.
PACKAGE_DIRS := loaders service ontology shapes queries reference demo
typecheck: install
	rm -rf build/typecheck && mkdir -p build/typecheck
	cp -rs $(CURDIR)/core build/typecheck/citytools
	for d in $(PACKAGE_DIRS); do cp -rs $(CURDIR)/$$d build/typecheck/citytools/$$d; done
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy -p citytools

unit: install
	$(BIN)/pytest

test: lint typecheck unit

# Benchmarks (docs/benchmarks.md): the bench extra and wrk, then every family on 127.0.0.1
# (`BENCH_ARGS="--only writes"` for one), long on 2 cores; `BENCH_ARGS=--quick` for a short run.
BENCH_ARGS ?=
bench: install
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info citytools-data citytools-demo-data

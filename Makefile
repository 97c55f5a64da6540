# tollguard: two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast test-slow lint typecheck bench lock audit-deps clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tollguard demo

# Every test, with a local PostgreSQL started for the storage tests when one can run here.
test: $(STAMP)
	bash scripts/test.sh

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not postgres and not e2e"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run --write docs/benchmarks.md

# Pin what is installed now (after a change to pyproject.toml's dependencies).
lock: $(STAMP)
	{ echo "# Exact versions tollguard is tested with: \`make install\` uses them as constraints."; \
	  echo "# Regenerate with \`make lock\` after changing dependencies in pyproject.toml."; \
	  $(BIN)/pip freeze --exclude-editable | grep -v -i '^tollguard' | sort -f; } > requirements.lock

# Known vulnerabilities in the pinned dependencies (needs the vulnerability database online).
audit-deps:
	bash scripts/audit-deps.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

# Two commands on a fresh machine with Python 3.11+:  make demo   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The SAM CLI pins older boto3 and pydantic than the package: it gets its own venv.
SAM    := .venv-sam/bin/sam
HASH   := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# The lowest moto the package declares (pyproject's `local` extra): tested by its own venv.
MOTO_FLOOR := $(shell sed -n 's/^local = .*"moto\[server\]>=\([0-9.]*\)".*/\1/p' pyproject.toml)
FLOOR  := .venv-moto-floor

.PHONY: demo test test-moto-floor lint typecheck clean chromium bench bench-quick

# What an extra pulls in, read from pyproject.toml so the message never drifts from it.
REQUIRES = $(BIN)/python -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(", ".join(p["dependencies"] + [d for e in sys.argv[1:] for d in p["optional-dependencies"][e]]))'

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@echo "creating the virtual environment $(VENV) with $$($(PYTHON) --version) and upgrading pip in it"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.local-$(HASH): $(BIN)/python
	@echo "installing adapter (editable) into $(VENV) with: $$($(REQUIRES) local)"
	$(BIN)/python -m pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.test-$(HASH): $(BIN)/python
	@echo "installing adapter (editable) into $(VENV) with: $$($(REQUIRES) local test)"
	$(BIN)/python -m pip install --quiet -e '.[local,test]'
	touch $@

$(SAM):
	@echo "installing the AWS SAM CLI into .venv-sam (its own venv: it pins older boto3 and pydantic)"
	$(PYTHON) -m venv .venv-sam
	.venv-sam/bin/python -m pip install --quiet --upgrade pip
	.venv-sam/bin/python -m pip install --quiet 'aws-sam-cli>=1.100'

# The browser tests (tests/browser) drive Debian's chromium, never a downloaded browser.
chromium:
	@command -v chromium >/dev/null 2>&1 || (echo "installing Debian's chromium with apt-get (for tests/browser)" && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

$(VENV)/.bench-$(HASH): $(BIN)/python
	@echo "installing adapter (editable) into $(VENV) with: $$($(REQUIRES) local bench)"
	$(BIN)/python -m pip install --quiet -e '.[local,bench]'
	touch $@

demo: $(VENV)/.local-$(HASH)
	$(BIN)/python -m samples.demo

test: $(VENV)/.test-$(HASH) $(SAM) chromium
	$(BIN)/ruff check adapter samples tests infra benchmarks
	$(BIN)/mypy adapter
	SAM_CLI=$(CURDIR)/$(SAM) $(BIN)/python -m pytest

$(FLOOR)/.moto-$(MOTO_FLOOR)-$(HASH):
	$(PYTHON) -m venv $(FLOOR)
	$(FLOOR)/bin/python -m pip install --quiet --upgrade pip
	$(FLOOR)/bin/python -m pip install --quiet -e '.[local]' 'moto[server]==$(MOTO_FLOOR)' \
		'pytest>=8.0' 'pytest-timeout>=2.3' 'hypothesis>=6.100' \
		'openapi-spec-validator>=0.7' 'openapi-schema-validator>=0.6'
	touch $@

# The declared range is the tested range: `make test` runs the newest moto allowed, this
# the lowest (the quick start, then the functional suite tuned and as moto ships).
test-moto-floor: $(FLOOR)/.moto-$(MOTO_FLOOR)-$(HASH)
	$(FLOOR)/bin/python -c 'import moto, sys; print("moto", moto.__version__); sys.exit(moto.__version__ != "$(MOTO_FLOOR)")'
	$(FLOOR)/bin/python -m samples.demo > /dev/null
	$(FLOOR)/bin/python -m pytest tests/functional
	ADAPTER_TUNE_MOTO=0 $(FLOOR)/bin/python -m pytest tests/functional

# Speed and AWS-call figures, side by side with peers: a table and benchmarks/results.json.
bench: $(VENV)/.bench-$(HASH)
	$(BIN)/python -m benchmarks

bench-quick: $(VENV)/.bench-$(HASH)
	$(BIN)/python -m benchmarks --quick --out .bench-quick.json

lint: $(VENV)/.test-$(HASH)
	$(BIN)/ruff check adapter samples tests infra benchmarks
	$(BIN)/ruff format --check adapter samples tests infra benchmarks

typecheck: $(VENV)/.test-$(HASH)
	$(BIN)/mypy adapter

clean:
	rm -rf $(VENV) .venv-sam $(FLOOR) .pytest_cache .ruff_cache .mypy_cache

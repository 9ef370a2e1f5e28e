# Two commands do all the set-up on a fresh machine:
#   make preview STACK=prod   offline preview of a stack (JSON=1 for machine-readable output)
#   make test                 lint, type check and the whole test suite
STACK ?= prod
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: preview test lint typecheck pytest clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt components/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

preview: $(STAMP)
	@$(PY) -m stack.preview $(STACK) $(if $(JSON),--json)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy components/__main__.py

pytest: $(STAMP)
	$(PY) -m pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

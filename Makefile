# Two commands do all the set-up on a fresh machine:
#   make preview STACK=prod   offline preview of a stack (JSON=1 for machine-readable output)
#   make test                 lint, type check and the whole test suite (installs PostgreSQL and Redis, and
#                             systemd-nspawn for the boot test, which runs as root)
# Also: make run (the service against local servers), make bench (the service benchmark),
#   make lab (the whole architecture on loopback), make drill (failure drills under load -> docs/resilience.md),
#   make docs (the component reference -> docs/reference/, the stacks' pictures -> docs/architecture/).
STACK ?= prod
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: preview test lint typecheck pytest servers boot-tools run bench lab drill docs graphviz clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt components/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

preview: $(STAMP)
	@$(PY) -m stack.preview $(STACK) $(if $(JSON),--json)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/zizmor --offline --persona pedantic .github/workflows
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy components/__main__.py
	$(VENV)/bin/mypy deploy-access/__main__.py

# Real PostgreSQL, Redis and HAProxy for the service tests and the drills, from Debian's packages (started by the tests themselves).
servers:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v redis-server >/dev/null \
			|| ! command -v haproxy >/dev/null; then \
		echo "installing PostgreSQL, Redis and HAProxy (Debian packages)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql redis-server haproxy >/dev/null; \
	fi

# The boot test's instance (tests/test_boot.py): systemd-nspawn, and what the user data takes from the OS
# (python3.11 with venv, unzip, logrotate) plus openssl for the lab's TLS certificate.
boot-tools:
	@if ! command -v systemd-nspawn >/dev/null || ! command -v logrotate >/dev/null || ! command -v unzip >/dev/null \
			|| ! command -v openssl >/dev/null || ! dpkg -s python3.11-venv >/dev/null 2>&1; then \
		echo "installing systemd-container, python3.11-venv, logrotate, unzip, openssl (Debian packages)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			systemd-container python3.11-venv logrotate unzip openssl >/dev/null; \
	fi

pytest: $(STAMP) servers boot-tools
	$(PY) -m pytest

run: $(STAMP) servers
	$(PY) -m lab.run

bench: $(STAMP) servers
	$(PY) -m bench.service

# The architecture on loopback (HAProxy as the ALB, three instances, PostgreSQL + standby, Redis + sentinels).
lab: $(STAMP) servers
	$(PY) -m lab.cluster

# Every failure drill under load; writes docs/resilience.md and its timeline plots.
drill: $(STAMP) servers
	$(PY) -m drills.run

# Graphviz's dot renders the architecture pictures (Debian package; the tests need only the committed files).
graphviz:
	@if ! command -v dot >/dev/null; then \
		echo "installing graphviz (Debian package)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq graphviz >/dev/null; \
	fi

# The generated docs: a reference page per component (from its ARGS Spec) and each stack's architecture picture
# (drawn from what __main__.py declares under the mock cloud). tests/test_reference.py and
# tests/test_architecture.py fail when these are stale.
docs: $(STAMP) graphviz
	$(PY) -m stack.reference
	$(PY) -m stack.architecture dev prod

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

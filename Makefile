# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv with uv.
PY ?= python3
# bytecode is written, as an installed package has it: the tests start many `humansupport` processes, and with
# PYTHONDONTWRITEBYTECODE each of them compiled every module it imports from source again
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
UV := $(VENV)/bin/uv
RUN := $(UV) run --no-sync
STAMP := $(VENV)/.synced
DIST := dist
PACKAGES := . $(wildcard plugins/humansupport-*)

.PHONY: demo test lint fmt typecheck unit bench clean postgres browser rt docs dist distcheck

$(UV):
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.4"

uv.lock: pyproject.toml $(wildcard plugins/*/pyproject.toml) | $(UV)
	$(UV) lock

# the store tests run against a real PostgreSQL (Debian's package); CI runs as root on a fresh machine
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "installing PostgreSQL for the store tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	fi

# the Request Tracker plugin's tests run against a real RT 5 (Debian's package, SQLite backend), started per session
rt:
	@if [ ! -x /usr/share/request-tracker5/libexec/rt-server ] || ! dpkg -s rt5-db-sqlite >/dev/null 2>&1; then \
		echo "installing Request Tracker for the RT plugin tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq request-tracker5 rt5-db-sqlite >/dev/null; \
	fi

$(STAMP): uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --inexact --all-packages --all-groups --all-extras
	touch $(STAMP)

demo: $(STAMP)
	$(RUN) humansupport demo --vendor zendesk

lint: $(STAMP)
	$(RUN) ruff check --fix src tests bench plugins conftest.py
	$(RUN) ruff format src tests bench plugins conftest.py
	$(RUN) cog -r docs/cli.md
	$(RUN) lint-imports --no-cache --no-logo

# the docs site into site/ (gitignored): strict (a broken link or anchor, a page missing from the nav fails) and
# offline (an audit hook refuses every connection, so no theme or plugin fetches anything at build time)
docs: $(STAMP)
	$(RUN) python tests/offline_docs_build.py --quiet

typecheck: $(STAMP)
	$(RUN) mypy src $(wildcard plugins/*/src)

# the HTML profile card is checked by rendering it in headless Chromium (Debian's package)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium missing: the HTML card render test is skipped"

unit: $(STAMP) postgres browser rt
	$(RUN) pytest

test: $(STAMP) postgres browser rt distcheck
	$(RUN) ruff check src tests bench plugins conftest.py
	$(RUN) ruff format --check src tests bench plugins conftest.py
	$(RUN) cog --check docs/cli.md
	$(RUN) lint-imports --no-cache --no-logo
	@$(MAKE) --no-print-directory docs
	$(RUN) mypy src $(wildcard plugins/*/src)
	$(RUN) pytest

# every sdist and wheel (the core and one per plugin) into dist/
dist: $(STAMP)
	rm -rf $(DIST)
	@for p in $(PACKAGES); do $(UV) build --quiet --no-sources --out-dir $(DIST) $$p || exit 1; done
	@ls -1 $(DIST)

# the built distributions' metadata renders on PyPI, and the wheels hold exactly the packages
distcheck: dist
	$(RUN) twine check --strict $(DIST)/*
	$(RUN) check-wheel-contents $(DIST)/*.whl

bench: $(STAMP) rt
	@for b in bench/*.py; do echo "== $$b"; $(RUN) python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DIST) .mypy_cache .ruff_cache .pytest_cache site

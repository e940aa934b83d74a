# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv with uv.
PY ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
RUN := $(UV) run --no-sync
STAMP := $(VENV)/.synced

.PHONY: demo test lint fmt typecheck unit bench clean browser

$(UV):
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.4"

uv.lock: pyproject.toml $(wildcard plugins/*/pyproject.toml) | $(UV)
	$(UV) lock

$(STAMP): uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --inexact --all-packages --all-groups
	touch $(STAMP)

demo: $(STAMP)
	$(RUN) humansupport demo

lint: $(STAMP)
	$(RUN) ruff check --fix src tests bench plugins
	$(RUN) ruff format src tests bench plugins
	$(RUN) cog -r docs/cli.md

typecheck: $(STAMP)
	$(RUN) mypy src $(wildcard plugins/*/src)

# the HTML profile card is checked by rendering it in headless Chromium (Debian's package)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium missing: the HTML card render test is skipped"

unit: $(STAMP) browser
	$(RUN) pytest

test: $(STAMP) browser
	$(RUN) ruff check src tests bench plugins
	$(RUN) ruff format --check src tests bench plugins
	$(RUN) cog --check docs/cli.md
	$(RUN) mypy src $(wildcard plugins/*/src)
	$(RUN) pytest

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(RUN) python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Two commands for a new user: `make demo` and `make test`. Both set everything up themselves
# and are safe to run twice (stamps skip work that is already done).
SHELL := /bin/bash
PY := .venv/bin/python
STAMPS := .build
MODELS := data/models
APT_PACKAGES := ffmpeg espeak-ng rubberband-cli
PYTEST_ARGS ?=

CHECKOV_VERSION := 3.3.30

.PHONY: setup apt venv npm models checkov test lint demo clean

setup: apt venv npm models checkov

apt:
	@missing=""; for bin in ffmpeg ffprobe espeak-ng rubberband; do \
	  command -v $$bin >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing $(APT_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMPS)/venv

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

npm: $(STAMPS)/npm

# checkov lives in its own virtual environment: its pins clash with the dagster family
$(STAMPS)/checkov-$(CHECKOV_VERSION):
	@mkdir -p $(STAMPS)
	@test -x .venv-checkov/bin/python || python3 -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q --upgrade pip
	.venv-checkov/bin/python -m pip install -q checkov==$(CHECKOV_VERSION)
	@touch $@

checkov: $(STAMPS)/checkov-$(CHECKOV_VERSION)

models: venv
	@$(PY) -m localization_core.models $(MODELS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/vulture

test: setup lint
	rm -f .coverage .coverage.*
	.venv/bin/coverage run -m pytest $(PYTEST_ARGS)
	.venv/bin/coverage combine -q
	.venv/bin/coverage report

demo: setup
	.venv/bin/localize demo

clean:
	rm -rf $(STAMPS) .venv .venv-checkov node_modules data .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache

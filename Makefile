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

# Runner knobs: each becomes a flag of scripts/run_test_matrix.py when set.
RUN_FLAGS = $(if $(EPOCHS),--epochs $(EPOCHS)) \
            $(if $(JOBS),--jobs $(JOBS)) $(if $(PARALLEL),--jobs $(PARALLEL)) \
            $(if $(JOBS_PER_GPU),--jobs-per-gpu $(JOBS_PER_GPU)) \
            $(if $(RUN_TIMEOUT),--run-timeout $(RUN_TIMEOUT)) \
            $(if $(RETRIES),--retries $(RETRIES)) \
            $(if $(filter 1,$(RETRY_FAILED)),--retry-failed) \
            $(if $(filter 1,$(STOP_ON_FAILURE)),--stop-on-failure) \
            $(if $(filter 1,$(DRY_RUN)),--dry-run) \
            $(if $(TRAIN_COMMAND),--train-command '$(TRAIN_COMMAND)') \
            $(if $(METRIC),--metric $(METRIC)) $(if $(MODE),--mode $(MODE))
SWEEP_FLAG   = $(if $(SWEEP),--sweep $(SWEEP))
RANK_FLAGS   = $(if $(METRIC),--metric $(METRIC)) $(if $(MODE),--mode $(MODE))
OUTPUT      ?= $(RESULTS)

.DEFAULT_GOAL := help
.PHONY: help venv menuconfig defconfig savedefconfig olddefconfig list-defconfigs \
        sweep sweep-generate sweep-run sweep-parallel sweep-resume sweep-analyze \
        sweep-monitor sweep-watch sweep-leaderboard sweep-compare sweep-promote \
        sweep-clean test bench

help: ## this list
	@echo "ksweep: Kconfig-driven hyperparameter sweeps for PyTorch"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: RANGE_CONFIG=file DEFCONFIG=name SWEEP=dir OUTPUT=dir EPOCHS=N JOBS=N"
	@echo "  PARALLEL=N JOBS_PER_GPU=k RUN_TIMEOUT=s RETRIES=N RETRY_FAILED=1 STOP_ON_FAILURE=1"
	@echo "  TRAIN_COMMAND='cmd' METRIC=val_acc MODE=max|min MAX_CONFIGS=N TOP=N A=dir B=dir"
	@echo "  DRY_RUN=1 V=1"

# The virtual environment, rebuilt when the pinned requirements change.
$(STAMP): requirements.txt requirements-dev.txt
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

sweep: sweep-generate ## generate, run and analyze RANGE_CONFIG (default: the quick embedded sweep)
	$(Q)$(PY) scripts/run_test_matrix.py --config-dir $(CONFIG_DIR) --output-dir $(OUTPUT) $(RUN_FLAGS)

sweep-generate: $(STAMP) ## expand RANGE_CONFIG into sweep_configs/
	$(Q)$(PY) scripts/generate_config_combinations.py $(or $(RANGE_CONFIG),$(QUICK_RANGE)) $(CONFIG_DIR) \
		$(if $(MAX_CONFIGS),--max-configs $(MAX_CONFIGS))

sweep-run: $(STAMP) ## run sweep_configs/ into a new sweep dir (or extend SWEEP=dir)
	$(Q)$(PY) scripts/run_test_matrix.py --config-dir $(CONFIG_DIR) --output-dir $(OUTPUT) $(SWEEP_FLAG) $(RUN_FLAGS)

sweep-parallel: ## make sweep with PARALLEL=N runs at once
	$(Q)$(MAKE) --no-print-directory sweep JOBS=$(or $(PARALLEL),2)

sweep-resume: $(STAMP) ## continue the newest sweep (or SWEEP=dir) from its own plan
	$(Q)$(PY) scripts/run_test_matrix.py --resume --output-dir $(OUTPUT) $(SWEEP_FLAG) $(RUN_FLAGS)

sweep-analyze: $(STAMP) ## write sweep_summary.json, sweep_analysis.txt and plots
	$(Q)$(PY) scripts/analyze_sweep.py --results-dir $(OUTPUT) $(SWEEP_FLAG) $(RANK_FLAGS)

sweep-monitor: $(STAMP) ## show the progress of the newest sweep (or SWEEP=dir) once
	$(Q)$(PY) scripts/sweep_monitor.py --results-dir $(OUTPUT) $(SWEEP_FLAG)

sweep-watch: $(STAMP) ## like sweep-monitor, refreshing every few seconds
	$(Q)$(PY) scripts/sweep_monitor.py --watch --results-dir $(OUTPUT) $(SWEEP_FLAG)

sweep-leaderboard: $(STAMP) ## best runs across all sweeps
	$(Q)$(PY) scripts/sweep_leaderboard.py --results-dir $(OUTPUT) $(RANK_FLAGS) $(if $(TOP),--top $(TOP))

sweep-compare: $(STAMP) ## compare two sweeps: A=dir B=dir
	$(Q)$(PY) scripts/sweep_compare.py --results-dir $(OUTPUT) $(A) $(B) $(RANK_FLAGS)

sweep-promote: $(STAMP) ## top TOP=3 runs of a sweep → sweep_configs/ with EPOCHS=N
	$(Q)$(PY) scripts/sweep_promote.py --results-dir $(OUTPUT) $(SWEEP_FLAG) $(RANK_FLAGS) \
		--top $(or $(TOP),3) $(if $(EPOCHS),--epochs $(EPOCHS)) --out $(CONFIG_DIR)

sweep-clean: ## remove sweep_configs/ (results stay)
	@echo "  CLEAN   $(CONFIG_DIR)/"
	$(Q)rm -rf $(CONFIG_DIR)

test: $(STAMP) ## ruff and the test suite
	$(Q)$(VENV)/bin/ruff check .
	$(Q)$(VENV)/bin/ruff format --check .
	$(Q)$(PY) -m pytest -q

bench: $(STAMP) ## the benchmarks (print figures against same-run baselines)
	$(Q)for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

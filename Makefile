# Two commands do all the set-up: `make run` (the default study) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: run test env dry-run report lint clean

$(BIN)/snakemake: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[test,slurm]"
	touch $@

env: $(BIN)/snakemake  ## create the virtual environment if missing

run: env  ## the whole study on the embedded default (digits, CPU)
	$(BIN)/snakemake --cores $(CORES)

test: env  ## the test suite (unit tests + tiny end-to-end pipeline)
	$(BIN)/python -m pytest -q

dry-run: env
	$(BIN)/snakemake -n

report: env  ## HTML report with a caption per figure (after `make run`)
	$(BIN)/snakemake --report results/report.html

lint: env
	$(BIN)/snakemake --lint

clean:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf logs checkpoints .snakemake

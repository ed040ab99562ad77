# Two commands do all the set-up: `make run` (the default study) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: run test env lock results-doc dry-run report lint wheel-check clean

# Every package comes from requirements.lock, exact versions checked against
# their hashes; the project itself is installed on top without resolving again.
$(BIN)/snakemake: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	touch $@

env: $(BIN)/snakemake  ## create the virtual environment if missing

run: env  ## the whole study on the embedded default (digits, CPU)
	$(BIN)/snakemake --cores $(CORES)

test: env  ## the test suite (unit tests + tiny end-to-end pipeline)
	$(BIN)/python -m pytest -q

lock:  ## re-resolve every dependency and rewrite requirements.lock (then commit it)
	$(PYTHON) tools/lock.py

results-doc: env  ## rewrite docs/results.md's generated block from results/tables (after make run and the regret target) and bench/results
	$(BIN)/fptopt results-doc --results results --doc docs/results.md --headline-in README.md $(foreach f,$(wildcard bench/results/search_comparison*.json),--search-comparison $(f))

dry-run: env
	$(BIN)/snakemake -n

report: env  ## HTML report with a caption per figure (after `make run`)
	$(BIN)/snakemake --report results/report.html

lint: env  ## ruff, the import-linter layer contracts (pyproject.toml), snakefmt and Snakemake's own linter (CI runs it)
	$(BIN)/ruff check src tests bench workflow/scripts tools
	$(BIN)/lint-imports
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

wheel-check: env  ## build the wheel, install its base requirements in a fresh venv, run check-config + analyze there
	$(BIN)/python tools/check_wheel.py

clean:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf logs checkpoints benchmarks .snakemake

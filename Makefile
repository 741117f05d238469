# Set-up is idempotent: stamp files in .venv record what is installed, so a second call does nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU machines here have these wheels on disk; elsewhere override, e.g. TORCH="torch torchvision".
TORCH ?= torch==2.14.1 torchvision==0.29.1
ARGS ?=

# A read-only MNIST copy beside the clone, if any: linked into data/ so nothing downloads.
SHARED_MNIST := $(wildcard $(abspath ../shared/data/MNIST/raw))

.PHONY: install dev data train test test-all lint format ui bench compare serve clean

install: $(VENV)/.installed data
dev: $(VENV)/.installed-dev data

# data/MNIST/raw -> ../shared/data/MNIST/raw when that exists and data/ has no copy yet, so
# every later `python scripts/...` finds the files with no variable set. Elsewhere the
# first training downloads them (data.download=true).
data:
ifneq ($(SHARED_MNIST),)
	@if [ ! -e data/MNIST/raw ]; then mkdir -p data/MNIST && ln -s $(SHARED_MNIST) data/MNIST/raw \
		&& echo "linked data/MNIST/raw -> $(SHARED_MNIST)"; fi
endif

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

train: install  ## 10-epoch SeedCNN run, logged to mlruns/ (extra overrides: make train ARGS="seed=7")
	$(BIN)/python scripts/train.py $(ARGS)

test: dev  ## the default (fast) test suite
	$(BIN)/python -m pytest $(ARGS)

test-all: dev  ## the whole suite, the `slow` tests included
	$(BIN)/python -m pytest -m "slow or not slow" $(ARGS)

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install  ## training and inference speed: pipeline vs plain PyTorch vs Keras -> docs/benchmarks.md
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/speed_report.py $(ARGS)

serve: install  ## the draw-or-upload page on http://127.0.0.1:8000 (API docs at /docs)
	$(BIN)/python scripts/serve.py $(ARGS)

compare: install  ## the store's best runs as a table
	$(BIN)/python scripts/compare.py $(ARGS)

ui: install  ## MLflow UI over the embedded store on http://127.0.0.1:5000 (prints links to the runs first)
	-@$(BIN)/python scripts/compare.py top=5
	@echo "A run opens as a GenAI page? Once per browser, click 'Model training' at the top left."
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db \
		--default-artifact-root $(CURDIR)/mlruns/artifacts --host 127.0.0.1 --port 5000

clean:  ## remove run outputs (keeps the MLflow store)
	rm -rf logs .pytest_cache

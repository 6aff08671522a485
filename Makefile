# Rampart. `make run` serves the demo fleet; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv/bin

.PHONY: run install test test-fast lint fmt typecheck bench bench-smoke demo-bundles check clean

run:
	scripts/run.sh

install:
	scripts/install.sh $(PYTHON)

test: install
	$(VENV)/pytest

test-fast: install
	$(VENV)/pytest -m "not browser and not worker"

lint: install
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy .
	$(VENV)/lint-imports
	$(VENV)/python manage.py makemigrations --check --dry-run

fmt: install
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

bench: install
	$(VENV)/python -m bench

bench-smoke: install
	$(VENV)/python -m bench --smoke

demo-bundles: install
	$(VENV)/python scripts/generate_demo_bundles.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

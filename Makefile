# Rampart. `make run` serves the demo fleet; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv/bin

.PHONY: run install lock test test-fast lint fmt typecheck bench bench-smoke demo-bundles check clean

run:
	scripts/run.sh

install:
	scripts/install.sh $(PYTHON)

# Re-resolve requirements*.lock from pyproject.toml after changing a dependency there; pins
# already in the lock are kept unless pyproject.toml moves them (UPGRADE=1 takes the newest).
LOCK_FLAGS := --custom-compile-command "make lock" --universal --python-version 3.12 --generate-hashes --quiet $(if $(UPGRADE),--upgrade)
lock: install
	$(VENV)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements-runtime.lock
	$(VENV)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements.lock
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

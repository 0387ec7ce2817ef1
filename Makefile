# The two commands of the README:
#   make run    run Hearth on embedded defaults (SQLite, local processes)
#   make test   run every test (lint, types, then every tier)
# One tier at a time (scripts/test.sh trains and installs only what that tier needs):
#   make test-unit | test-integration | test-conversation | test-e2e | test-browser | test-fuzz
TIERS := unit integration conversation e2e browser fuzz
.PHONY: run test setup train lint $(addprefix test-,$(TIERS))

setup:
	@bash scripts/bootstrap.sh

train: setup
	@.venvs/app/bin/python -m hearth train

run: setup
	@.venvs/app/bin/python -m hearth run

test: setup
	@bash scripts/test.sh

$(addprefix test-,$(TIERS)): test-%: setup
	@bash scripts/test.sh $*

lint: setup
	@.venvs/app/bin/ruff check . && .venvs/app/bin/ruff format --check . && .venvs/app/bin/mypy

# The two commands of the README:
#   make run    run Hearth on embedded defaults (SQLite, local processes)
#   make test   run every test
.PHONY: run test setup train lint

setup:
	@bash scripts/bootstrap.sh

train: setup
	@.venvs/app/bin/python scripts/hearth.py train

run: setup
	@.venvs/app/bin/python scripts/hearth.py run

test: setup
	@bash scripts/test.sh

lint: setup
	@.venvs/app/bin/ruff check . && .venvs/app/bin/ruff format --check . && .venvs/app/bin/mypy

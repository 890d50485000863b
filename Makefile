# Papote — the two commands a fresh machine needs are `make run` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip

.PHONY: run test install build lint bench soak clean chromium

run: install build
	$(PY) -m papote serve --demo

# Three workers, a test file each at a time (module-scoped servers stay on one worker); every test has
# its own server, database and ports, so they do not meet. `-n 0` runs them one by one.
TEST_WORKERS ?= 3

test: install build chromium
	$(PY) -m pytest -q -m "not soak" -n $(TEST_WORKERS) --dist loadfile

install: .venv/.stamp node_modules/.stamp

.venv/.stamp: setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[dev,bench]"
	touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

build: node_modules/.stamp
	npm run build

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

lint: install
	.venv/bin/ruff check server tests bench
	.venv/bin/mypy
	npm run check

bench: install build chromium
	$(PY) -m bench.run

soak: install build chromium
	$(PY) -m pytest -q -m soak

clean:
	rm -rf .venv node_modules server/papote/static/build .pytest_cache .mypy_cache .ruff_cache

# 智慧城管 backend. Two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# The suite runs on this many processes (pytest-xdist; every test has its own databases and ports).
TEST_WORKERS ?= 2
export FLASK_APP := wsgi:app
export PORT

.PHONY: run test install install-test system-test-deps lint migrate-regen clean cluster-test

$(VENV)/.installed: pyproject.toml constraints.txt setup.py services_nearby/_nearby.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	@# georeport (a third-party Open311 client, tests/reports/open311) requires xmltodict<0.15;
	@# it only calls xmltodict.parse, which 1.0.x keeps, and our pin (wechat's XML) stays 1.0.x:
	@# installed without its dependencies (requests and xmltodict are ours already).
	$(BIN)/python -m pip install -q --no-deps georeport==0.3.1
	touch $@

# The pages' scripts are linted with ESLint (npm registry, package-lock.json); nothing of it runs
# in the product.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: apt-get install -y npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# System packages the tests use: Debian's Chromium (the browser tests; never a downloaded browser),
# CJK fonts (labels, screenshots) and poppler (the label PDF is rendered back in a test).
SYSTEM_TEST_PACKAGES := chromium fonts-noto-cjk poppler-utils
system-test-deps:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  [ -d /usr/share/fonts/opentype/noto ] || missing="$$missing fonts-noto-cjk"; \
	  command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing$$missing (Debian packages)"; apt-get install -y -q $$missing >/dev/null; \
	    else echo "missing:$$missing; run: sudo apt-get install -y$$missing" >&2; exit 1; fi; \
	  fi

## make run: install, migrate, seed the demo city, serve on http://127.0.0.1:$(PORT)
run: $(VENV)/.installed
	@mkdir -p instance
	$(BIN)/flask db upgrade
	$(BIN)/flask reports train-classifier
	$(BIN)/flask seed demo
	@$(BIN)/flask urls
	@# The worker delivers notifications and pays released rewards (through the embedded WeChat
	@# Pay emulator, which gunicorn serves); it stops with gunicorn.
	@# Each gunicorn worker writes its request counters to instance/prometheus (emptied first), so
	@# /metrics sums every worker, not only the one that answers the scrape.
	@rm -rf instance/prometheus && mkdir -p instance/prometheus
	@$(BIN)/flask worker & worker=$$!; trap "kill $$worker 2>/dev/null" EXIT INT TERM; \
	  PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/instance/prometheus \
	  $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## make test: install the test extras and run the whole suite
test: $(VENV)/.installed-test node_modules/.installed system-test-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	npx --no-install eslint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## make cluster-test: two app nodes and two workers behind HAProxy on a 3-node MariaDB Galera
## cluster, with Redis and S3, all from deploy/'s files on 127.0.0.1; kills parts under load and
## prints the counts (docs/scale.md). Not part of `make test` (tests/cluster/conftest.py).
CLUSTER_PACKAGES := haproxy redis-server rsync mariadb-server galera-4
cluster-test: $(VENV)/.installed-test
	@for tool in haproxy redis-server rsync mariadbd; do command -v $$tool >/dev/null 2>&1 || \
	  { echo "missing $$tool: apt-get install -y $(CLUSTER_PACKAGES)" >&2; exit 1; }; done
	CLUSTER_TEST=1 $(BIN)/python -m pytest -p no:xdist -s -q tests/cluster

## make lint: style, the layering contract (import-linter) and the pages' scripts (ESLint)
lint: $(VENV)/.installed-test node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	npx --no-install eslint

migrate-regen: $(VENV)/.installed
	scripts/regen-initial-migration

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache *.egg-info

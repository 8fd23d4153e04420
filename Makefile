# Gatehouse: `make demo` serves a demo organisation; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PG_URL ?= postgresql://postgres@127.0.0.1:5432/gatehouse
PYTEST_ARGS ?=

AXE_DIR := tests/e2e/axe
AXE := $(AXE_DIR)/node_modules/axe-core/axe.min.js

.PHONY: demo test test-sqlite test-postgres build-deps system-deps axe lint bench clean

$(VENV)/.installed: pyproject.toml | build-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	PORT=$(PORT) $(VENV)/bin/gatehouse demo --port $(PORT)

# Debian packages pip needs to build python-ldap (it has no binary wheels): OpenLDAP's and
# Cyrus SASL's headers, a C compiler and Python's headers. Installed when missing (needs root).
build-deps:
	@missing=""; \
	[ -e /usr/include/ldap.h ] || missing="$$missing libldap-dev"; \
	[ -e /usr/include/sasl/sasl.h ] || missing="$$missing libsasl2-dev"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	[ -e "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] || missing="$$missing python3-dev"; \
	$(call apt_install)

# Debian packages the end-to-end and browser tests and bench/ drive; installed when missing
# (needs root). nginx's njs module hashes managed devices' certificates (docs/proxies/nginx.md);
# rsyslog receives the sign-in events streamed over syslog; slapd and Samba's AD domain
# controller are the directories of docs/directory.md.
system-deps:
	@missing=""; \
	for pkg in chromium nginx caddy wrk npm slapd samba; do command -v $$pkg >/dev/null || [ -x /usr/sbin/$$pkg ] || missing="$$missing $$pkg"; done; \
	[ -x /usr/sbin/rsyslogd ] || missing="$$missing rsyslog"; \
	[ -e /usr/lib/nginx/modules/ngx_http_js_module.so ] || missing="$$missing libnginx-mod-http-js"; \
	[ -d /usr/share/samba/setup ] || missing="$$missing samba-ad-provision"; \
	[ -d /usr/lib/x86_64-linux-gnu/samba/ldb ] || [ -d /usr/lib/aarch64-linux-gnu/samba/ldb ] || missing="$$missing samba-dsdb-modules"; \
	$(call apt_install)

# Install the packages named in $$missing (as root), or say which are missing.
define apt_install
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: missing Debian packages:$$missing (run as root to install them)"; fi; \
	fi
endef

# axe-core, which the browser tests inject into every page of the staff journeys
# (tests/e2e/accessibility.py): the version pinned in $(AXE_DIR)/package-lock.json, from npm.
axe: $(AXE)
$(AXE): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix $(AXE_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "note: npm is missing (make system-deps, as root, installs it): the browser journeys are skipped"; fi

# SQLite always; PostgreSQL too when it is reachable (always in CI).
test: $(VENV)/.installed system-deps $(AXE)
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$(CI)" ] || $(PY) -m tests.postgres_available "$(PG_URL)"; then \
	  $(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL not reachable at $(PG_URL): skipped the PostgreSQL run"; fi

test-sqlite: $(VENV)/.installed
	@echo "=== test suite on SQLite ==="
	env -u GATEHOUSE_DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed
	@echo "=== test suite on PostgreSQL ($(PG_URL)) ==="
	GATEHOUSE_DATABASE_URL=$(PG_URL) $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check gatehouse tests bench
	$(VENV)/bin/ruff format --check gatehouse tests bench
	$(VENV)/bin/mypy gatehouse
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info $(AXE_DIR)/node_modules test-artifacts

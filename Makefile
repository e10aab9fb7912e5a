# One command to run, one to test. Python 3.11+, Debian/Ubuntu. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test check lint format types migrations-check deploy-check bench clean-var

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

setup: $(STAMP)
	./scripts/system-deps.sh
	for po in locale/*/LC_MESSAGES/django.po; do msgfmt --check -o $${po%.po}.mo $$po; done

## Run everything: embedded services, models, migrations, demo users + venue, web, workers, beat.
run: setup
	$(PY) -m commandcenter.launcher run

## Run the test suite against real PostgreSQL + Redis (embedded unless DATABASE_URL/REDIS_URL are set).
test: setup
	$(PY) -m commandcenter.launcher test

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## mypy's Django plugin imports the settings; it needs no servers, so none are started for it.
MYPY_ENV := CC_EMBEDDED=0 DATABASE_URL=postgres://typecheck@127.0.0.1:1/typecheck REDIS_URL=redis://127.0.0.1:1/0

types: $(STAMP)
	$(MYPY_ENV) $(VENV)/bin/mypy .

migrations-check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run

deploy-check: $(STAMP)
	DEBUG=0 CC_HTTPS=1 SECRET_KEY=$$($(PY) -c "import secrets;print(secrets.token_urlsafe(50))") \
		$(PY) manage.py check --deploy --fail-level WARNING

check: lint types migrations-check deploy-check test

bench: $(STAMP)
	for script in bench/*.py; do case $$script in */_*) continue;; esac; echo "== $$script"; $(PY) $$script || exit 1; done

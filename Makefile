# The course in two commands (see README.md):
#   make book   set up .venv, fetch the data, execute the notebooks, build _build/html
#   make test   set up .venv, fetch the data, run the unit tests and every notebook (nbval),
#               instructor and student editions
# Both are idempotent: the environment is reinstalled only when pyproject.toml or
# constraints.txt changes, the data only when missing, and the book re-executes only
# notebooks whose code changed.
#
# COURSE_QUICK=1 shrinks data and epochs (same code path); a quick book goes to _quick/ so its
# cached outputs never leak into the published build in _build/.

# Python 3.11 or newer (tested: 3.11, 3.12, 3.13). The first that works of python3.11,
# python3.12, python3.13, python3 (and pyenv's copies); choose another with
#   make PYTHON=python3.13 VENV=.venv-3.13 test
PYTHON ?= $(shell sh tools/find-python.sh)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
QUICK  := $(filter 1 true yes on,$(COURSE_QUICK))
BOOK_OUT := $(if $(QUICK),_quick,.)

.PHONY: book check-html test student publish-student bench benchmark lint format hooks release data env clean

# The execution cache (and Sphinx's own) is keyed on each notebook's code only; outputs also
# depend on utils/ and the pinned packages, so a change there clears the build and every
# notebook runs again.
CODE_HASH = $(shell cat pyproject.toml constraints.txt $$(find utils -name '*.py' -o -name '*.json' | sort) | sha256sum | cut -c1-16)
CACHE_STAMP := $(BOOK_OUT)/_build/.code-hash

book: $(STAMP) data
	@if [ -f $(CACHE_STAMP) ] && [ "$$(cat $(CACHE_STAMP))" != "$(CODE_HASH)" ]; then \
		echo "utils/ or pyproject.toml changed: clearing $(BOOK_OUT)/_build"; \
		rm -rf $(BOOK_OUT)/_build; fi
	$(BIN)/jupyter-book build . --path-output $(BOOK_OUT) -W -n --keep-going
	@echo $(CODE_HASH) > $(CACHE_STAMP)
	@echo "Book: $(BOOK_OUT)/_build/html/index.html"

# Every page of the built book (`make book` first) in headless Chromium from the system's
# packages (apt-get install chromium): console errors, broken links and anchors, images,
# audio players, interactive figures without a static one, local paths; see
# utils/course/browser.py. COURSE_QUICK=1 checks the quick book in _quick/.
check-html: $(STAMP)
	COURSE_BOOK_HTML=$(BOOK_OUT)/_build/html $(BIN)/python -m pytest tests/browser \
		-p no:cacheprovider -rs

test: $(STAMP) data student
	$(BIN)/python -m pytest tests chapters student --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 -p no:cacheprovider

# The student edition (solutions replaced by stubs) in student/; see utils/course/student.py.
student: $(STAMP)
	$(BIN)/python -m utils.course.student --out student

# The student edition as a commit on the local branch `student` (what Colab and Binder open);
# working tree and index untouched. Publishing means pushing that branch.
publish-student: $(STAMP)
	$(BIN)/python -m utils.course.student --branch student

# How long every chapter takes to execute on this machine, full settings (the published book's);
# quick settings: .venv/bin/python -m utils.course.timing --quick. The reports go to
# benchmarks/latest/timing-{full,quick}.json (committed: the chapters quote them).
bench: $(STAMP) data
	$(BIN)/python -m utils.course.timing

# The benchmark protocol the comparison chapter draws from (utils/protocol.py): every family
# on every task at matched budgets, 3 seeds, into benchmarks/protocol/$(PROTOCOL).jsonl
# (committed); it resumes where a stopped run left off. PROTOCOL=reduced (the chapters'
# settings) is sized for a 2-core laptop; PROTOCOL=full (tuned on validation, two budgets)
# is many CPU hours: see benchmarks/README.md. BENCHMARK_ARGS selects a subset or sets the
# pool, e.g. BENCHMARK_ARGS="--tasks speech --families cnn rnn --workers 2".
PROTOCOL ?= reduced
benchmark: $(STAMP) data
	$(BIN)/python -m utils.bench protocol --protocol $(PROTOCOL) $(BENCHMARK_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The git hooks (.pre-commit-config.yaml: notebook outputs stripped, ruff) on every tracked file,
# as CI runs them; a hook that has to change a file fails and shows the change.
hooks: $(STAMP)
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

# Tag a release: make release VERSION=0.2.0 (RELEASE_ARGS=--dry-run to see the steps first;
# RELEASE_ARGS="--timing FILE" to record an existing full benchmark). Never pushes; see
# CONTRIBUTING.md and utils/course/release.py.
release: $(STAMP)
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=X.Y.Z [RELEASE_ARGS=--dry-run]"; exit 2; }
	$(BIN)/python -m utils.course.release $(VERSION) $(RELEASE_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

data: $(STAMP)
	$(BIN)/python -m utils.data fetch

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@if [ ! -x $(BIN)/python ]; then \
		if [ -z "$(PYTHON)" ]; then \
			echo "error: no Python 3.11 or newer found (python3 here is $$(python3 --version 2>&1 || echo missing)); install one, or name it: make PYTHON=/path/to/python3.12"; \
			exit 1; fi; \
		$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
			echo "error: $(PYTHON) is $$($(PYTHON) --version 2>/dev/null || echo 'not a working Python'); the course needs Python 3.11 or newer: make PYTHON=python3.12"; \
			exit 1; }; \
		echo "Creating $(VENV) with $$($(PYTHON) --version) ($(PYTHON)); for another: make PYTHON=python3.13 VENV=.venv-3.13"; \
		$(PYTHON) -m venv $(VENV); \
	elif [ "$(origin PYTHON)" = "command line" ] && [ "$$($(BIN)/python --version)" != "$$($(PYTHON) --version)" ]; then \
		echo "error: $(VENV) uses $$($(BIN)/python --version), not $(PYTHON); pick a new folder: make PYTHON=$(PYTHON) VENV=.venv-other"; \
		exit 1; \
	fi
	@# Exact versions from constraints.txt; pyproject.toml's own ranges are loose (Colab).
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[dev]"
	@# In a git checkout, install the pre-commit hook (.pre-commit-config.yaml) too.
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then $(BIN)/pre-commit install; fi
	@touch $@

clean:
	rm -rf _build _quick .pytest_cache

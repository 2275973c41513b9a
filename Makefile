# make run   : set up .venv, fetch MNIST, serve the dashboard
# make test  : the same setup plus test tools, then the test suite but its slow end-to-end tests,
#              a worker per core (about a minute on 2 cores)
# make lint : ruff (pyproject.toml: [tool.ruff]); CI runs it before the tests
# make test-slow : the slow end-to-end tests (Chromium pages, real training runs, torchrun); CI runs both
# make screenshots : fresh docs/*.png of the pages (needs Chromium)
# make mutation    : mutation testing of the core modules with mutmut (long; not part of make test)
# make messages    : extract the dashboard's text (babel.cfg) and update every locale/*/LC_MESSAGES/messages.po
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-slow data lint screenshots mutation clean messages translations

# (Re)install when a requirements file is newer than the last install.
# The project itself is installed editable (pyproject.toml): `python -m vae` and `vae` work from any folder.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt "setuptools>=64"
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

# MNIST is required. Fashion-MNIST (for the shipped fashion model) comes from torchvision's mirrors or
# Debian's package (apt-get install dataset-fashion-mnist); without it only that model's pages say how to get it.
# A stamp file: once fetched and verified, `make test` and `make run` do not start two Python processes
# (each importing torch) to find the data there again. Remove it to fetch and verify again.
DATA_ROOT := $(or $(VAE_DATA_ROOT),data)
DATA_STAMP := $(DATA_ROOT)/.fetched
data: $(DATA_STAMP)
$(DATA_STAMP): $(VENV)/.installed
	$(BIN)/python -m vae data --root $(DATA_ROOT)
	$(BIN)/python -m vae data --root $(DATA_ROOT) --dataset fashion-mnist || echo "Fashion-MNIST is not available: the fashion model's pages will say how to get it."
	touch $@

# The dashboard's translations (app_pages/i18n.py): each catalog compiled from its .po, which is what is
# committed and what a translator edits (Poedit, Weblate). `make messages` after changing the text.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/messages.po))
translations: $(MO_FILES)
locale/%/LC_MESSAGES/messages.mo: locale/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@ -l $*

messages: $(VENV)/.installed     # python -m: babel.cfg names an extractor in app_pages (the folder on sys.path)
	$(BIN)/python -m babel.messages.frontend extract -F babel.cfg --sort-by-file --no-wrap -c TRANSLATORS: -o locale/messages.pot \
		--project "VAE Latent Explorer" --copyright-holder "VAE Latent Explorer" .
	$(BIN)/pybabel update --no-wrap -i locale/messages.pot -d locale

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# MALLOC_ARENA_MAX=2: glibc otherwise keeps a memory arena per busy session thread; 8 sessions
# uploading at once left the server 255 MB larger for good instead of 84 MB (bench/upload_memory.py).
run: $(VENV)/.installed data translations
	MALLOC_ARENA_MAX=2 $(BIN)/streamlit run streamlit_app.py

# -n auto: a pytest-xdist worker per core. Marked slow: the Chromium pages beyond the plane's smoke
# test, real training runs watched in the browser, torchrun (pyproject.toml: markers).
test: $(VENV)/.installed-test data translations
	$(BIN)/python -m pytest -m "not slow" -n auto

test-slow: $(VENV)/.installed-test data translations
	$(BIN)/python -m pytest -m slow

screenshots: $(VENV)/.installed-test data translations
	$(BIN)/python tests/browser/screenshots.py

# Mutation testing of model, evaluate, train, checkpoint, data and preprocess (an hour or more on 2
# cores; not part of `make test`). One thread: torch's forked workers otherwise deadlock under mutmut.
mutation: $(VENV)/.installed-test data
	$(BIN)/python -m pip install --quiet -r requirements-mutation.txt
	OMP_NUM_THREADS=1 $(BIN)/mutmut run
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .pytest_cache mutants

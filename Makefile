# bertcorpus — every target runs inside .venv (created by `make setup`).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  := $(BIN)/python
# LANG is also the locale variable every shell exports: only a LANG given on make's command
# line (`make corpus LANG=ja`) picks the corpus recipe.
ifeq ($(origin LANG),command line)
CORPUS_LANG := $(LANG)
else
CORPUS_LANG := multi
endif
OUT     ?= out/$(CORPUS_LANG)
VOCAB_SIZE ?= 8000
MAX_SEQ_LEN ?= 128
BEAM_FLAGS ?= --direct_running_mode=multi_processing --direct_num_workers=2

.PHONY: setup test check bench corpus clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet torch==2.13.0
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $@

test: setup
	$(BIN)/pytest -n 2 --dist loadfile -q

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(PYTHON) -m bench.run --output bench/results.json

# Clean -> vocab -> shards for one corpus recipe (LANG=multi|en|ja|uk|bg|books|protein).
corpus: setup
	env LANG=C.UTF-8 $(PYTHON) -m pipeline.corpus --lang $(CORPUS_LANG) --output $(OUT) --vocab_size $(VOCAB_SIZE) \
		--max_seq_len $(MAX_SEQ_LEN) -- $(BEAM_FLAGS)

clean:
	rm -rf out bench/results.json .pytest_cache

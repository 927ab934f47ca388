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
# DATA=DIR: read the recipe's inputs from DIR (laid out like ../shared/data). Without it:
# ../shared/data where it exists, else data/raw, downloaded on first use (pipeline/catalog.py).
DATA    ?=
RUN     ?= $(OUT)/run

.PHONY: setup test check bench bench-scale corpus report evaluate clean

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

# Peak RSS, seconds and 1 -> 2 worker scaling of clean, vocab and shards on the sample data
# replicated 1x/4x/16x (SIZES=1,4 JOBS=shards for a subset); merges into bench/results.json.
SIZES ?= 1,4,16
JOBS  ?= clean,vocab,shards
bench-scale: setup
	$(PYTHON) -m bench.bench_scale --sizes $(SIZES) --jobs $(JOBS) $(if $(DATA),--data $(DATA))

# Clean -> vocab -> shards -> report.html for one corpus recipe
# (LANG=multi|en|ja|uk|bg|books|protein).
corpus: setup
	env LANG=C.UTF-8 $(PYTHON) -m pipeline.corpus --lang $(CORPUS_LANG) --output $(OUT) --vocab_size $(VOCAB_SIZE) \
		--max_seq_len $(MAX_SEQ_LEN) $(if $(DATA),--data_dir $(DATA)) -- $(BEAM_FLAGS)

# $(OUT)/report.html again, with the training run's curves where $(RUN)/log.jsonl exists.
report: setup
	$(PYTHON) -m pipeline.report $(OUT) $(if $(wildcard $(RUN)/log.jsonl),--run $(RUN))

# Fine-tune MODEL (a trainer.pretrain run folder, a BERT folder or random:...) on the standard
# eval files beside its random-init baseline: $(EVAL_OUT)/report.{json,md,png}.
MODEL   ?=
TASKS   ?= sst2,rte,pos,squad
EVAL_OUT ?= out/evaluate
evaluate: setup
	@test -n "$(MODEL)" || { echo "usage: make evaluate MODEL=RUN_DIR|HF_DIR|random:MODEL"; exit 2; }
	$(PYTHON) -m trainer.evaluate --model $(MODEL) --tasks $(TASKS) --output $(EVAL_OUT) \
		$(if $(DATA),--data_dir $(DATA))

clean:
	rm -rf out bench/results.json .pytest_cache

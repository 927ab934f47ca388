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

.PHONY: setup test check bench bench-scale corpus report evaluate pretrain-demo experiments clean

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
# replicated 1x/4x/16x, beside their peers (wikiextractor, tokenizers) and raw XML -> shards
# (SIZES=1,4 JOBS=shards for a subset); merges into bench/results.json.
SIZES ?= 1,4,16
JOBS  ?= clean,clean_dedup,wikiextractor,xml_to_shards,vocab,tokenizers,shards
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

# The CPU pretraining recipe of docs/experiments/recipe.md: the English corpus plus SST-2's
# unlabeled training texts (task-adaptive pretraining; the test split is never seen), packed as
# 64-token single segments, then a tiny encoder for 16,000 steps (~16 min on 2 idle cores),
# keeping a checkpoint every 2,000 steps (for the probes). DEMO_SEED picks the pretraining seed.
DEMO_OUT   ?= out/en64
DEMO_SEED  ?= 0
DEMO_RUN   ?= $(DEMO_OUT)/demo$(if $(filter-out 0,$(DEMO_SEED)),_s$(DEMO_SEED))
DEMO_FLAGS ?= --model_size tiny --max_steps 16000 --batch_size 64 --lr 2e-3 --warmup_steps 300 \
	--dropout 0 --save_every 2000 --keep_checkpoints --threads 2
pretrain-demo: setup
	test -f $(DEMO_OUT)/task_text/sst2_train.txt || $(PYTHON) -m trainer.task_text --task sst2 \
		--output $(DEMO_OUT)/task_text/sst2_train.txt $(if $(DATA),--data_dir $(DATA))
	test -f $(DEMO_OUT)/shards/manifest.json || env LANG=C.UTF-8 $(PYTHON) -m pipeline.corpus \
		--lang en --output $(DEMO_OUT) --extra_text $(DEMO_OUT)/task_text/sst2_train.txt --extra_lang en \
		--vocab_size 8000 --max_seq_len 64 --pair none $(if $(DATA),--data_dir $(DATA)) -- $(BEAM_FLAGS)
	$(PYTHON) -m trainer.pretrain --shards $(DEMO_OUT)/shards --output $(DEMO_RUN) $(DEMO_FLAGS) \
		--seed $(DEMO_SEED)

# Every analysis of docs/experiments/ on the demo run (and a multilingual run), into $(EXP).
EXP      ?= out/experiments
MULTI_OUT ?= out/multi64
MULTI_RUN ?= $(MULTI_OUT)/demo
FT_FLAGS ?= --seeds 3 --epochs 10 --lr 5e-4 --threads 2
experiments: pretrain-demo
	$(PYTHON) -m trainer.probe embryology --run $(DEMO_RUN) --output $(EXP)/embryology \
		--max_sentences 800 --max_texts 3000
	$(PYTHON) -m trainer.probe contextual --model $(DEMO_RUN) --output $(EXP)/contextual
	$(PYTHON) -m trainer.probe polarity --model $(DEMO_RUN) --output $(EXP)/polarity
	$(PYTHON) -m trainer.evaluate --model $(DEMO_RUN) --tasks sst2,pos --output $(EXP)/finetune \
		$(FT_FLAGS) --pooling mean
	for p in nsp sop; do \
		test -f $(DEMO_OUT)/shards_$$p/manifest.json || $(PYTHON) -m pipeline.shards \
			--input $$(ls -d $(DEMO_OUT)/clean/* | paste -sd, -) --tokenizer $(DEMO_OUT)/tokenizer \
			--output $(DEMO_OUT)/shards_$$p --max_seq_len 64 --pair $$p $(BEAM_FLAGS) || exit 1; \
		$(PYTHON) -m trainer.pretrain --shards $(DEMO_OUT)/shards_$$p --output $(DEMO_RUN)_$$p \
			$(DEMO_FLAGS) --seed $(DEMO_SEED) || exit 1; \
	done
	$(PYTHON) -m trainer.evaluate --model $(DEMO_RUN) --compare $(DEMO_RUN)_nsp $(DEMO_RUN)_sop \
		--tasks sst2,rte,pos,squad --output $(EXP)/objectives $(FT_FLAGS)
	test -f $(MULTI_OUT)/shards/manifest.json || env LANG=C.UTF-8 $(PYTHON) -m pipeline.corpus \
		--lang multi --output $(MULTI_OUT) --vocab_size 8000 --max_seq_len 64 --pair none \
		$(if $(DATA),--data_dir $(DATA)) -- $(BEAM_FLAGS)
	$(PYTHON) -m trainer.pretrain --shards $(MULTI_OUT)/shards --output $(MULTI_RUN) \
		--model_size tiny --max_steps 16000 --batch_size 64 --lr 2e-3 --warmup_steps 300 \
		--dropout 0 --save_every 4000 --keep_checkpoints --threads 2 --seed 0
	$(PYTHON) -m trainer.probe multilingual --model $(MULTI_RUN) --output $(EXP)/multilingual \
		--max_sentences 600 --threads 2

clean:
	rm -rf out bench/results.json .pytest_cache

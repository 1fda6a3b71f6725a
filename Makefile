# xlmr_user: set-up, tests and one target per dataset (`make help` lists them).
# Inside an active virtualenv everything is installed there; otherwise into
# ./.venv, which is created on first use.  Recipe knobs pass through the
# environment: `make classify DATA=dir ARCH=xlmr_base PRETRAINED=xlmr.base PEFT=lora`.

SHELL := /bin/bash
PYTHON ?= python3
FAIRSEQ_SPEC ?= fairseq-fixed==0.12.3.1

ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := $(CURDIR)/.venv
endif
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# the suite runs on every core (pytest-xdist), a test file per worker (its fixtures built once)
TEST_WORKERS ?= auto

WT2_SHARED ?= $(CURDIR)/../shared/data/wikitext-2

BENCH_LM_ARGS ?= --budget-minutes 20 --concurrent
BENCH_SST2_ARGS ?= --concurrent --threads 1

.PHONY: install install-bench test test-fast gpu-bundle gpu-check gpu-dry-run help toy classify ner conll2003 wikiann udpos sst-2 sib-200 pretrain wikitext-2 wt2-mini bench bench-quick bench-lm bench-pretrain bench-sib-200 bench-sst-2 bench-tagging bench-time-to-quality

help:  ## this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## /  make \1\t/' | expand -t 24

install:  ## venv (or the active one) + torch + fairseq + this package
	@if [ -n "$$VIRTUAL_ENV" ]; then \
	  echo ">> installing into the active virtualenv $$VIRTUAL_ENV"; \
	elif [ -x "$(VENV)/bin/python" ]; then \
	  echo ">> no active virtualenv: installing into $(VENV)"; \
	else \
	  echo ">> no active virtualenv: creating $(VENV)"; \
	  $(PYTHON) -m venv "$(VENV)"; \
	fi
	$(PY) -m pip install --upgrade pip setuptools wheel
	$(PY) -m pip install -r requirements.txt pytest pytest-xdist seqeval conlleval
	@# fairseq's metadata asks for torchaudio (a different multi-GB torch):
	@# install it without deps, built against the torch installed above.
	$(PY) -m pip install --no-deps --no-build-isolation "$(FAIRSEQ_SPEC)"
	@# its Cython extensions must be compiled against the NumPy installed above; pip's
	@# wheel cache (keyed on the sdist, not on NumPy) can hand back an older build
	$(PY) -c "import fairseq.data.data_utils_fast, fairseq.data.token_block_utils_fast" 2>/dev/null || \
	  $(PY) -m pip install --force-reinstall --no-cache-dir --no-deps --no-build-isolation "$(FAIRSEQ_SPEC)"
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	$(PY) -m xlmr_user.cli.check_install
	@[ -n "$$VIRTUAL_ENV" ] || echo ">> done; activate with: source .venv/bin/activate"

# the benchmark extra (transformers, for the peers), without moving torch or numpy
install-bench:  ## + transformers and sklearn-crfsuite, the benchmarks' peers (their tests skip without them)
	$(PY) -m pip install -r requirements.txt "transformers>=4.40" sklearn-crfsuite

test:  ## the whole test suite, end-to-end runs included (TEST_WORKERS=1: one at a time); the GPU check's dry run is make gpu-dry-run
	$(PY) -m pytest tests -m "not dry_run" -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast:  ## the tests not marked slow
	$(PY) -m pytest tests -m "not slow and not dry_run" -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# the GPU check (tools/gpu, docs/gpu.md): bundle here, carry .gpu/ to the CUDA machine, check there
GPU_BUNDLE_ARGS ?=
GPU_CHECK_ARGS ?=

gpu-bundle:  ## .gpu/: wheels for CPython 3.12 + the check's data, for a CUDA machine with no network (GPU_BUNDLE_ARGS=--build-python PY)
	PIP="$(PY) -m pip" bash tools/gpu/wheelhouse.sh $(GPU_BUNDLE_ARGS)
	PYTHON=$(PY) bash tools/gpu/data.sh

gpu-check:  ## on the CUDA machine: install from .gpu/, GPU tests, fp16/amp/bf16 vs fp32, throughput (< 8 min on an H100)
	bash tools/gpu/check.sh $(GPU_CHECK_ARGS)

gpu-dry-run:  ## the GPU tools on this CPU: install.sh offline, check.sh and pretrain.sh at toy size, checked by tests (CI runs it)
	$(PY) -m pytest tests/test_gpu_tools.py -m dry_run -p no:cacheprovider $(PYTEST_ARGS)

toy:  ## the tour: a tiny classifier on synthetic data, every stage (a few minutes on a CPU)
	PYTHON=$(PY) bash examples/toy/run.sh

classify:  ## any TSV folder: DATA=dir [ARCH= PRETRAINED= PEFT= ...]
	@[ -n "$(DATA)" ] || { echo "usage: make classify DATA=dir-with-train.tsv-and-dev.tsv"; exit 2; }
	PYTHON=$(PY) DATA="$(DATA)" bash examples/classification/run.sh

ner:  ## any CoNLL / CoNLL-U folder: DATA=dir [SCHEME=iob1 TAG_COLUMN=upos ARCH= PRETRAINED= PEFT= ...]
	@[ -n "$(DATA)" ] || { echo "usage: make ner DATA=dir-with-train.txt-and-dev.txt"; exit 2; }
	PYTHON=$(PY) DATA="$(DATA)" bash examples/ner/run.sh

conll2003:  ## CoNLL-2003 English NER from your copy: FROM=dir (it cannot be downloaded)
	@[ -n "$(FROM)" ] || [ -f data/conll2003/train.txt ] || { echo "usage: make conll2003 FROM=dir-with-your-copy (research use only; it cannot be downloaded)"; exit 2; }
	PYTHON=$(PY) bash examples/conll2003/run.sh

wikiann:  ## WikiANN NER zero-shot: fine-tune on English, test 12 languages (PRETRAINED=exp/pretrain/model; FROM=../shared/data/wikiann offline)
	PYTHON=$(PY) bash examples/wikiann/run.sh

udpos:  ## UD part-of-speech tags zero-shot: English -> 10 languages (PRETRAINED=...; FROM=../shared/data/udpos offline)
	PYTHON=$(PY) bash examples/udpos/run.sh

sst-2:  ## GLUE SST-2 (downloads it; FROM=../shared/data/sst-2 offline)
	PYTHON=$(PY) bash examples/sst-2/run.sh

sib-200:  ## SIB-200 zero-shot transfer: fine-tune on English, test every language (PRETRAINED=exp/pretrain/model; FROM=../shared/data/sib-200 offline)
	PYTHON=$(PY) bash examples/sib-200/run.sh

pretrain:  ## pretrain your own XLM-R (masked LM, 8 languages of ../shared/data; about 1 hour on a CPU)
	PYTHON=$(PY) bash examples/pretrain/run.sh

wikitext-2:  ## the WikiText-2 LM recipe (downloads the data)
	PYTHON=$(PY) bash examples/wikitext-2/run.sh

wt2-mini:  ## the LM recipe on ../shared/data/wikitext-2 (train=valid, test=test), 15 min on a CPU
	PYTHON=$(PY) TRAIN_CONFIG="$${TRAIN_CONFIG:-$(CURDIR)/examples/wikitext-2/conf/train_mini.yaml}" \
	  FROM="$${FROM:-$(WT2_SHARED)}" DATA_ARGS=--mini NAME=wt2-mini EXP="$${EXP:-$(CURDIR)/exp/wt2-mini}" \
	  bash examples/wikitext-2/run.sh

bench:  ## both benchmarks side by side, wt2-mini LM then SST-2 (about 1 hour; bench/README.md)
	$(PY) -m bench all --lm "$(BENCH_LM_ARGS)" --sst2 "$(BENCH_SST2_ARGS)"

bench-quick:  ## the same as a <5-minute smoke check
	$(PY) -m bench all --quick

bench-lm:  ## the wt2-mini LM benchmark only
	$(PY) -m bench wt2-mini $(BENCH_LM_ARGS)

bench-pretrain:  ## masked-LM throughput vs fairseq, pretraining, SST-2 from the checkpoint (about 80 min)
	$(PY) -m bench pretrain

bench-sib-200:  ## cross-lingual transfer on SIB-200: pretrained vs scratch vs TF-IDF (about 100 min; PRETRAINED_ARGS="--pretrained DIR" skips pretraining)
	$(PY) -m bench sib-200 $(PRETRAINED_ARGS)

bench-sst-2:  ## the SST-2 benchmark only
	$(PY) -m bench sst-2 --peers $(BENCH_SST2_ARGS)

bench-tagging:  ## NER and POS: CRF vs BiLSTM vs xlmr_small vs transformers on CoNLL-2003, WikiANN zero-shot, UD-POS (bench/README.md)
	$(PY) -m bench tagging $(BENCH_TAGGING_ARGS)

bench-time-to-quality:  ## LM options one by one, then the winning set vs the peers, then the SST-2 BiLSTM (about 80 min)
	$(PY) -m bench wt2-mini --concurrent --warmup-updates 50 --validate-every 25 --name wt2-mini-options \
	  --systems sdpa_transformer_lm_wt2_small,+rotary,+qk_norm,+relu_squared,+zero_init_proj,+untied_output,+muon
	$(PY) -m bench wt2-mini --concurrent --warmup-updates 50 --validate-every 25 --name wt2-mini-modern \
	  --systems sdpa_transformer_lm_wt2_small,+muon,sdpa_transformer_lm_wt2_small_modern,modern+muon,transformer_lm,gpt2
	$(PY) -m bench sst-2 --concurrent --threads 1 --budget-minutes 10 --scratch-updates 3000 --no-peft --bilstm --name sst-2-bilstm

# xlmr_user: set-up, tests and one target per dataset.
#
#   make install     # venv (or the active one) + torch + fairseq + this package
#   make install-bench  # + transformers, the benchmark's peers (their tests skip without it)
#   make test        # the whole pytest suite (slow end-to-end cases included)
#   make test-fast   # skip the cases marked slow
#   make toy         # the 5-minute tour: a tiny classifier on synthetic data (CPU)
#   make classify DATA=dir [ARCH=xlmr_small PRETRAINED=dir PEFT=lora ...]   # any TSV folder
#   make sst-2       # GLUE SST-2 (downloads it; FROM=../shared/data/sst-2 offline)
#   make wikitext-2  # the WikiText-2 LM recipe (downloads the data; NGPU, ARCH, ... override)
#   make wt2-mini    # the same recipe on ../shared/data/wikitext-2, sized for a CPU
#   make bench       # both benchmarks, plugin vs fairseq vs transformers: wt2-mini LM, then SST-2 (~2 h)
#   make bench-quick # the same as a <5-minute smoke check (BENCH_LM_ARGS=..., BENCH_SST2_ARGS=... add flags)
#
# Inside an active virtualenv everything is installed there; otherwise into
# ./.venv, which is created on first use.

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

WT2_SHARED ?= $(CURDIR)/../shared/data/wikitext-2

BENCH_LM_ARGS ?= --budget-minutes 20 --concurrent
BENCH_SST2_ARGS ?= --concurrent --threads 1

.PHONY: install install-bench test test-fast help toy classify sst-2 wikitext-2 wt2-mini bench bench-quick bench-lm bench-sst-2

help:
	@sed -n '2,17p' Makefile | sed 's/^# \{0,1\}//'

install:
	@if [ -n "$$VIRTUAL_ENV" ]; then \
	  echo ">> installing into the active virtualenv $$VIRTUAL_ENV"; \
	elif [ -x "$(VENV)/bin/python" ]; then \
	  echo ">> no active virtualenv: installing into $(VENV)"; \
	else \
	  echo ">> no active virtualenv: creating $(VENV)"; \
	  $(PYTHON) -m venv "$(VENV)"; \
	fi
	$(PY) -m pip install --upgrade pip setuptools wheel
	$(PY) -m pip install -r requirements.txt pytest
	@# fairseq's metadata asks for torchaudio (a different multi-GB torch):
	@# install it without deps, built against the torch installed above.
	$(PY) -m pip install --no-deps --no-build-isolation "$(FAIRSEQ_SPEC)"
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	$(PY) -m xlmr_user.check_install
	@[ -n "$$VIRTUAL_ENV" ] || echo ">> done; activate with: source .venv/bin/activate"

# the benchmark extra (transformers, for the peers), without moving torch or numpy
install-bench:
	$(PY) -m pip install -r requirements.txt "transformers>=4.40"

test:
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-fast:
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

toy:
	PYTHON=$(PY) bash examples/toy/run.sh

classify:
	@[ -n "$(DATA)" ] || { echo "usage: make classify DATA=dir-with-train.tsv-and-dev.tsv"; exit 2; }
	PYTHON=$(PY) DATA="$(DATA)" bash examples/classification/run.sh

sst-2:
	PYTHON=$(PY) bash examples/sst-2/run.sh

wikitext-2:
	PYTHON=$(PY) bash examples/wikitext-2/run.sh

# wt2-mini: train on the official valid split, test on the test split; a CPU
# model and a 15-minute budget (override like any knob: MAX_UPDATE=..., ARCH=...)
wt2-mini:
	PYTHON=$(PY) MINI=true FROM="$${FROM:-$(WT2_SHARED)}" EXP="$${EXP:-$(CURDIR)/exp/wt2-mini}" \
	  ARCH="$${ARCH:-transformer_lm_wt2_small}" TOKENS_PER_SAMPLE="$${TOKENS_PER_SAMPLE:-128}" \
	  WARMUP_UPDATES="$${WARMUP_UPDATES:-200}" LR="$${LR:-0.001}" \
	  MAX_UPDATE="$${MAX_UPDATE:-5000}" STOP_TIME_HOURS="$${STOP_TIME_HOURS:-0.25}" \
	  bash examples/wikitext-2/run.sh

# the transformers peer needs the benchmark extra: pip install -e '.[bench]'
bench:
	$(PY) -m bench all --lm "$(BENCH_LM_ARGS)" --sst2 "$(BENCH_SST2_ARGS)"

bench-quick:
	$(PY) -m bench all --quick

bench-lm:
	$(PY) -m bench wt2-mini $(BENCH_LM_ARGS)

bench-sst-2:
	$(PY) -m bench sst-2 --peers $(BENCH_SST2_ARGS)

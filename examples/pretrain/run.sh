#!/usr/bin/env bash
# Pretrain your own XLM-R: the pretraining template, with local/data.sh (the default
# corpus: English from ../shared/data/wikitext-2 and the SST-2 training sentences, and the
# Wikipedia dumps in ../shared/data/wikipedia; or --from DIR of LANG.txt / LANG.xml* files)
# and conf/train.yaml (xlmr_small, about an hour on a CPU).
#   examples/pretrain/run.sh [--from DIR] [--arch xlmr_base --max-update 100000]    # or: make pretrain
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../templates/pretrain.sh" --recipe-dir "$here" "$@"

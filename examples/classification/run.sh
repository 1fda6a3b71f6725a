#!/usr/bin/env bash
# Any folder of TSVs (train.tsv, dev.tsv, optional test.tsv; header sentence[<TAB>sentence2]<TAB>label):
#   examples/classification/run.sh --data DIR [--arch xlmr_base --pretrained xlmr.base --peft lora ...]
#   make classify DATA=DIR [PRETRAINED=... PEFT=...]
# The classification template with conf/train.yaml; --help lists the stages and knobs.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../templates/classification.sh" --recipe-dir "$here" "$@"

#!/usr/bin/env bash
# CoNLL-2003 English NER (PER, ORG, LOC, MISC): train on train, select on dev (testa),
# report entity F1 on test (testb), the number every NER paper reports.
# The data is not freely downloadable (Reuters RCV1 text, research use only): stage 1 takes
# your copy, --from DIR with train.txt, dev.txt (or testa.txt, valid.txt) and test.txt (or
# testb.txt) in the original four-column layout (word POS chunk NER; IOB1 or IOB2).
#   examples/conll2003/run.sh --from ~/data/conll2003 [--pretrained xlmr.base --arch xlmr_base]
#   make conll2003 FROM=~/data/conll2003
# The NER recipe's options (examples/ner/run.sh; --help lists the stages and knobs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export TASK=token_classification
exec "$here/../templates/classification.sh" --recipe-dir "$here" "$@"

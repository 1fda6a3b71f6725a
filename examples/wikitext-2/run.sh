#!/usr/bin/env bash
# WikiText-2 language modelling: the LM template, with local/data.sh (the official
# archive, sha256-checked, or --from DIR) and conf/train.yaml.
#   examples/wikitext-2/run.sh [--arch awd_lstm_lm_wt2] [--tokenizer word|spm] [--from DIR]
#   make wikitext-2     # the same;  make wt2-mini: conf/train_mini.yaml on ../shared/data/wikitext-2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../templates/language_model.sh" --recipe-dir "$here" --text-name 'wiki.%s.tokens' "$@"

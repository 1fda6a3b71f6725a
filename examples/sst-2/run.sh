#!/usr/bin/env bash
# GLUE SST-2 (binary sentiment): the classification template, with local/data.sh
# (GLUE's SST-2.zip, sha256-checked; GLUE dev is the test split) and conf/train.yaml.
#   examples/sst-2/run.sh [--from ../shared/data/sst-2] [--pretrained xlmr.base --arch xlmr_base]
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../templates/classification.sh" --recipe-dir "$here" "$@"

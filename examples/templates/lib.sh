# What the recipe scripts share: knobs with descriptions, the launch knobs (GPUs, nodes,
# fp16) and the fairseq flags that depend on them, the train stage (settings stamp,
# resume, skip), DRY_RUN, progress display, conf/*.yaml reading.  Sourced after
# data-prep/common.sh; a script declares its knobs with `knob`, then `launch_knobs` if it
# trains, sources parse_options.sh, and calls resolve_launch.

# knob NAME DEFAULT DESCRIPTION: a knob of the recipe. Its value: --name VALUE on the
# command line (parse_options.sh), else NAME in upper case in the environment, else
# DEFAULT; --help lists it with DESCRIPTION.
declare -A knob_help
knobs=""
knob() {
  local env=${1^^}
  printf -v "$1" '%s' "${!env:-$2}"
  knob_help[$1]=$3
  knobs+=" $1"
}

# the launch knobs of every training recipe
launch_knobs() {
  knob ngpu auto "GPUs to train on: auto (all of them; 0 on a machine without CUDA) or a number"
  knob update_freq 1 "fairseq's --update-freq: gradients of K batches per update (a K times larger batch)"
  knob fp16 true "train in fp16 on GPUs (true|false); never on a CPU"
  knob launcher local "local (fairseq starts a process per GPU), slurm (srun) or torchrun"
  knob nnodes 1 "machines (with --launcher slurm or torchrun)"
  knob node_rank 0 "this machine's rank (torchrun)"
  knob master_addr 127.0.0.1 "address of rank 0 (torchrun)"
  knob master_port 29500 "port of rank 0 (torchrun, slurm)"
}

# Number of usable GPUs (0 on a CPU-only machine).
detect_gpus() {
  "$PYTHON" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0
}

# Flags for fairseq-train given $ngpu, $nnodes, $update_freq, $fp16, $launcher:
#   GPU: --fp16 (unless fp16=false) --distributed-world-size NNODES*NGPU --update-freq K
#        (+ --distributed-port MASTER_PORT under SLURM) --num-workers W: W data-loading
#        processes per GPU (the cores over the GPUs, less one, 1 to 4), so that batches are
#        made while the GPU trains (with none, an H200 pretraining xlmr_small waited on
#        masking and collating for 60% of the time)
#   CPU: --cpu --update-freq K --num-workers 0 (never fp16 or bf16 on a CPU; the cores train)
device_flags() {
  if [ "$ngpu" -gt 0 ]; then
    local flags="--distributed-world-size $(( nnodes * ngpu )) --update-freq $update_freq"
    [ "$fp16" = true ] && flags="--fp16 $flags"
    [ "$launcher" = slurm ] && flags="$flags --distributed-port $master_port"
    local workers=$(( $(nproc) / ngpu - 1 ))
    workers=$(( workers > 4 ? 4 : (workers < 1 ? 1 : workers) ))
    echo "$flags --num-workers $workers"
  else
    echo "--cpu --update-freq $update_freq --num-workers 0"
  fi
}

# The command that starts fairseq-train, by $launcher:
#   local:    fairseq-train (fairseq starts one process per local GPU)
#   slurm:    srun --nodes=NNODES --ntasks-per-node=1 fairseq-train
#             (fairseq reads its rank from SLURM and starts one process per GPU)
#   torchrun: torchrun --nproc_per_node=NGPU --nnodes=NNODES --node_rank=R
#             --master_addr=ADDR --master_port=PORT <path of fairseq-train>
#             (run it on every node with its own NODE_RANK)
train_launcher() {
  case "$launcher" in
    local) echo fairseq-train ;;
    slurm) echo "srun --nodes=$nnodes --ntasks-per-node=1 fairseq-train" ;;
    torchrun) echo "torchrun --nproc_per_node=$ngpu --nnodes=$nnodes --node_rank=$node_rank" \
                   "--master_addr=$master_addr --master_port=$master_port $(command -v fairseq-train || echo fairseq-train)" ;;
    *) die "--launcher must be local, slurm or torchrun, not '$launcher'" ;;
  esac
}

check_launch_knobs() {
  case "$launcher" in local|slurm|torchrun) ;; *) die "--launcher must be local, slurm or torchrun, not '$launcher'";; esac
  if [ "$nnodes" -gt 1 ] && [ "$launcher" = local ]; then
    die "--nnodes $nnodes needs --launcher slurm or torchrun"
  fi
  if [ "$nnodes" -gt 1 ] && [ "$ngpu" -eq 0 ]; then
    die "multi-node training needs GPUs (--ngpu N); on CPUs use examples/launch_cpu_ddp.sh"
  fi
}

# Run a stage's command, or just print it when DRY_RUN=1.
run_cmd() {
  if [ "${DRY_RUN:-0}" = 1 ]; then printf '%q ' "$@"; echo; else "$@"; fi
}

# run_logged LOG CMD...: run CMD with its output in LOG (via LOG.tmp: a failed run
# leaves no LOG, and its tail is shown); DRY_RUN=1 prints the command and '> LOG'.
run_logged() {
  local out=$1; shift
  if [ "${DRY_RUN:-0}" = 1 ]; then printf '%q ' "$@"; echo "> $out"; return; fi
  "$@" > "$out.tmp" 2>&1 || { tail -20 "$out.tmp" >&2; die "$1 failed (log: $out.tmp)"; }
  mv "$out.tmp" "$out"
}

# ... | show_progress LOG TOTAL_UPDATES METRIC [--maximize] [--stop-time-hours H]: fairseq-train's
# whole output to LOG (appended), one readable line per record to the terminal.
show_progress() {
  if [ "${DRY_RUN:-0}" = 1 ]; then cat; return; fi
  "$PYTHON" -m xlmr_user.cli.progress --log "$1" --total-updates "$2" --metric "$3" "${@:4}"
}

# fill_from_config FILE KNOB...: each empty KNOB takes its value from the
# conf/*.yaml FILE; each knob already set is added to the array overrides
# (--knob value), to follow the file's options on the command line.
fill_from_config() {
  local file=$1 k i=0 values; shift
  overrides=()
  mapfile -t values < <("$PYTHON" -m xlmr_user.recipes.train_config "$file" --get "$@" || echo FAILED)
  [ "${values[-1]:-}" != FAILED ] || exit 1
  for k in "$@"; do
    if [ -n "${!k}" ]; then overrides+=("--${k//_/-}" "${!k}"); else printf -v "$k" '%s' "${values[$i]}"; fi
    i=$((i + 1))
  done
}
# After option parsing: check --recipe-dir, find --train-config (default
# RECIPE/conf/train.yaml) and fill the template's $conf_knobs from it.
use_recipe_config() {
  [ -n "$recipe_dir" ] || die "--recipe-dir is required (the recipe's folder, with conf/ and local/)"
  recipe_dir="$(cd "$recipe_dir" && pwd)"
  train_config=${train_config:-$recipe_dir/conf/train.yaml}
  [ -f "$train_config" ] || die "$train_config: no such file (--train-config)"
  # knobs given on the command line override the file: they come after its options
  # shellcheck disable=SC2086
  fill_from_config "$train_config" $conf_knobs
}

# train_config_flags FILE: the whole file as fairseq-train flags, one a line.
train_config_flags() { "$PYTHON" -m xlmr_user.recipes.train_config "$1" || exit 1; }

# json_get FILE KEY[.KEY...]: one value of a JSON file (meta.json)
json_get() {
  "$PYTHON" -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"
}

stage_enabled() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

# is_current FILE THAN: FILE is there, not empty, and newer than THAN (a stage's output
# that needs no redoing)
is_current() { [ -s "$1" ] && [ "$1" -nt "$2" ]; }

# settings_of KNOB...: "knob=value ..." of the knobs training depends on (empty ones left out)
settings_of() {
  local k out=()
  for k in "$@"; do [ -z "${!k}" ] || out+=("$k=${!k}"); done
  echo "${out[*]}"
}

# train_stage CKPT SETTINGS LOG TOTAL METRIC [PROGRESS_FLAGS...] -- COMMAND...: stage 3 of
# every template. CKPT/train.done records the SETTINGS of a finished run: with the same
# SETTINGS training is skipped, with others the recipe stops (use another --exp); an
# unfinished run resumes from CKPT/checkpoint_last.pt (fairseq's own resume). COMMAND's
# whole output goes to LOG (appended), one progress line per record to the terminal.
train_stage() {
  local ckpt=$1 settings=$2 train_log=$3 total=$4 metric=$5 flags=()
  shift 5
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  if [ -f "$ckpt/train.done" ]; then
    if [ -s "$ckpt/train.done" ] && [ "$(cat "$ckpt/train.done")" != "$settings" ]; then
      die "$ckpt was trained with other settings:
  then: $(cat "$ckpt/train.done")
  now:  $settings
use another --exp (or delete $ckpt to train again)"
    fi
    log "stage 3: $ckpt/train.done exists, skipping training (delete it to train again)"
    return 0
  fi
  [ -f "$ckpt/checkpoint_last.pt" ] && log "stage 3: resuming from $ckpt/checkpoint_last.pt"
  mkdir -p "$ckpt"
  run_cmd "$@" 2>&1 | show_progress "$train_log" "$total" "$metric" ${flags[@]+"${flags[@]}"}
  [ "${DRY_RUN:-0}" = 1 ] || echo "$settings" > "$ckpt/train.done"
}

# After option parsing: count GPUs if asked to, check the launch knobs, and
# set the array train_cmd (the command that starts fairseq-train).
resolve_launch() {
  [ "$ngpu" = auto ] && ngpu=$(detect_gpus)
  check_launch_knobs
  read -ra train_cmd <<< "$(train_launcher)"
}

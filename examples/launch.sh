# Helpers shared by the recipes: GPU detection and the fairseq flags that
# depend on it.  Sourced after data-prep/common.sh and before the recipe's
# own knobs; a recipe adds $launch_knobs to its $_knobs and calls
# resolve_launch after parse_options.sh.

# ---- launch knobs shared by every training recipe ----
ngpu=${NGPU:-auto}
update_freq=${UPDATE_FREQ:-1}
fp16=${FP16:-true}
launcher=${LAUNCHER:-local}
nnodes=${NNODES:-1}
node_rank=${NODE_RANK:-0}
master_addr=${MASTER_ADDR:-127.0.0.1}
master_port=${MASTER_PORT:-29500}
launch_knobs="ngpu update_freq fp16 launcher nnodes node_rank master_addr master_port"

# Number of usable GPUs (0 on a CPU-only machine).
detect_gpus() {
  "$PYTHON" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0
}

# Flags for fairseq-train given $ngpu, $nnodes, $update_freq, $fp16, $launcher:
#   GPU: --fp16 (unless fp16=false) --distributed-world-size NNODES*NGPU --update-freq K
#        (+ --distributed-port MASTER_PORT under SLURM)
#   CPU: --cpu --update-freq K (never fp16 or bf16 on a CPU)
device_flags() {
  if [ "$ngpu" -gt 0 ]; then
    local flags="--distributed-world-size $(( nnodes * ngpu )) --update-freq $update_freq"
    [ "$fp16" = true ] && flags="--fp16 $flags"
    [ "$launcher" = slurm ] && flags="$flags --distributed-port $master_port"
    echo "$flags"
  else
    echo "--cpu --update-freq $update_freq"
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

stage_enabled() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

# After option parsing: count GPUs if asked to, check the launch knobs, and
# set the array train_cmd (the command that starts fairseq-train).
resolve_launch() {
  [ "$ngpu" = auto ] && ngpu=$(detect_gpus)
  check_launch_knobs
  read -ra train_cmd <<< "$(train_launcher)"
}

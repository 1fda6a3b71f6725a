# Helpers shared by the recipes: GPU detection and the fairseq flags that
# depend on it.  Sourced after data-prep/common.sh.

# Number of usable GPUs (0 on a CPU-only machine).
detect_gpus() {
  "$PYTHON" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0
}

# Flags for fairseq-train given $ngpu, $update_freq and $fp16:
#   GPU: --fp16 (unless fp16=false) --distributed-world-size N --update-freq K
#   CPU: --cpu --update-freq K (never fp16 or bf16 on a CPU)
device_flags() {
  if [ "$ngpu" -gt 0 ]; then
    local flags="--distributed-world-size $ngpu --update-freq $update_freq"
    [ "$fp16" = true ] && flags="--fp16 $flags"
    echo "$flags"
  else
    echo "--cpu --update-freq $update_freq"
  fi
}

# Run a stage's command, or just print it when DRY_RUN=1.
run_cmd() {
  if [ "${DRY_RUN:-0}" = 1 ]; then printf '%q ' "$@"; echo; else "$@"; fi
}

stage_enabled() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

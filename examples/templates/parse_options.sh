# Kaldi/ESPnet-style option parsing, sourced by every recipe script after it declares
# its knobs with `knob` (lib.sh).  "--some-knob VALUE" (or "--some-knob=VALUE") sets the
# shell variable some_knob; "--help" prints $help_message and every knob with its current
# value and description.  With passthrough_unknown=1, options that are not knobs are kept,
# in order, in the array passthrough (for a wrapper that hands them on to a template).
passthrough=()
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "$help_message"
      echo "Knobs (override as --name value, or NAME=value in the environment):"
      for _v in $knobs; do
        printf '  --%-22s %s\n' "${_v//_/-} ${!_v:-''}" "" | sed 's/ *$//'
        [ -z "${knob_help[$_v]:-}" ] || echo "${knob_help[$_v]}" | fold -s -w 84 | sed 's/^/        /'
      done
      [ -z "${help_after_knobs:-}" ] || eval "$help_after_knobs"
      exit 0 ;;
    --*=*) _name="${1%%=*}"; _value="${1#*=}"; shift ;;
    --*) [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }
         _name="$1"; _value="$2"; shift 2 ;;
    *) echo "error: unexpected argument '$1' (options are --name value; see --help)" >&2; exit 2 ;;
  esac
  _name="${_name#--}"; _name="${_name//-/_}"
  case " $knobs " in
    *" $_name "*) printf -v "$_name" '%s' "$_value" ;;
    *) if [ "${passthrough_unknown:-0}" = 1 ]; then passthrough+=("--${_name//_/-}" "$_value")
       else echo "error: unknown option --${_name//_/-} (see --help)" >&2; exit 2; fi ;;
  esac
done

# Kaldi/ESPnet-style option parsing, sourced by the recipes after they set
# their defaults.  "--some-knob VALUE" (or "--some-knob=VALUE") sets the shell
# variable some_knob, which must already exist; "--help" prints the recipe's
# header comment and every knob with its current value.  A recipe that wraps
# another one sets _pass_unknown=1: unknown options are then collected in the
# array _rest (to hand on) instead of being an error.
_knobs="$(echo $_knobs)"  # one line, single spaces
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      sed -n '2,/^[^#]/p' "$0" | sed -n 's/^# \{0,1\}//p'
      echo "Knobs (override as --name value, or NAME=value in the environment):"
      for _v in $_knobs; do printf '  --%-22s %s\n' "${_v//_/-}" "${!_v}"; done
      exit 0 ;;
    --*=*) _name="${1%%=*}"; _value="${1#*=}"; shift ;;
    --*) [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }
         _name="$1"; _value="$2"; shift 2 ;;
    *) echo "error: unexpected argument '$1' (options are --name value; see --help)" >&2; exit 2 ;;
  esac
  _name="${_name#--}"; _name="${_name//-/_}"
  case " $_knobs " in
    *" $_name "*) printf -v "$_name" '%s' "$_value" ;;
    *) if [ -n "${_pass_unknown:-}" ]; then _rest+=("--${_name//_/-}" "$_value")
       else echo "error: unknown option --${_name//_/-} (see --help)" >&2; exit 2; fi ;;
  esac
done

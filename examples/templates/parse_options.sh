# Kaldi/ESPnet-style option parsing, sourced by the templates after they set
# their defaults.  "--some-knob VALUE" (or "--some-knob=VALUE") sets the shell
# variable some_knob, which must be listed in $_knobs; "--help" prints
# $help_message and every knob with its current value.
_knobs="$(echo $_knobs)"  # one line, single spaces
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "$help_message"
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
    *) echo "error: unknown option --${_name//_/-} (see --help)" >&2; exit 2 ;;
  esac
done

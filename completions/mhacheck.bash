# bash completion for mhacheck: subcommands, their options, the values of options with a fixed
# set of choices (--format, --color), diagnostic codes for `explain`, and file names elsewhere.
# The subcommands and options are read from mhacheck's own --help (once per shell), so that
# completion knows exactly the options of the installed version.

# Prints one line per option of `mhacheck [SUBCOMMAND] --help`: "NAMES<TAB>VALUE" where NAMES
# are the option's spellings separated by commas and VALUE is its value type as help prints it
# (TEXT, INT:INT>=0, TEXT:{text,json}, ...) or empty for a flag.
_mhacheck_options() {
  local line names value
  "$1" ${2:+"$2"} --help 2>/dev/null | while IFS= read -r line; do
    if [[ $line =~ ^\ \ (-[-A-Za-z0-9,]+)(\ ([^ ]+))? ]]; then
      names=${BASH_REMATCH[1]}
      value=${BASH_REMATCH[3]}
      [[ $value == ... ]] && value=
      printf '%s\t%s\n' "$names" "$value"
    fi
  done
}

_mhacheck() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local program=${COMP_WORDS[0]} subcommand="" i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word != -* ]]; then
      subcommand=$word
      break
    fi
  done
  COMPREPLY=()

  if [[ -z $subcommand ]]; then
    local subcommands
    subcommands=$("$program" --help 2>/dev/null | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][-a-z]*\) .*/\1/p')
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "-h --help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))
    fi
    return
  fi

  local options names value all_names="" prev_value="" prev_is_option=0 name
  options=$(_mhacheck_options "$program" "$subcommand")
  while IFS=$'\t' read -r names value; do
    [[ -z $names ]] && continue
    all_names+=" ${names//,/ }"
    for name in ${names//,/ }; do
      if [[ $name == "$prev" ]]; then
        prev_is_option=1
        prev_value=$value
      fi
    done
  done <<< "$options"

  # The value of the option just typed: its choices, nothing for numbers and Python text, files
  # for file options.
  if ((prev_is_option)) && [[ -n $prev_value ]]; then
    if [[ $prev_value =~ \{([^}]*)\} ]]; then
      COMPREPLY=($(compgen -W "${BASH_REMATCH[1]//,/ }" -- "$cur"))
    elif [[ $prev == @(-o|--output|--save|--plot|--weights) ]]; then
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return
  fi

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$all_names" -- "$cur"))
  elif [[ $subcommand == explain ]]; then
    COMPREPLY=($(compgen -W "$("$program" explain --all 2>/dev/null | sed -n 's/^## \(MHA[0-9]*\).*/\1/p')" -- "$cur"))
  else
    # Specs: *.json files and directories (searched for *.json).
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.json' -- "$cur"))
  fi
}

complete -F _mhacheck mhacheck

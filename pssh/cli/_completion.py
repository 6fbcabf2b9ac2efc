"""``pssh --completion bash``: a bash completion script, made from the parser so
that it always knows the options of this version."""
import argparse
from typing import Dict, List

#: What the values of some options are, by ``dest``; one entry per value.
_VALUES = {
    'host_files': ['file'], 'identity': ['file'], 'config': ['file'],
    'outdir': ['dir'], 'errdir': ['dir'], 'user': ['user'], 'options': ['option'],
    'put': ['file', 'none'], 'get': ['none', 'dir'],
}
_COMPGEN = {
    'file': 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))',
    'dir': 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))',
    'user': 'COMPREPLY=($(compgen -u -- "$cur"))',
    'option': 'compopt -o nospace 2>/dev/null; COMPREPLY=($(compgen -W "%s" -- "$cur"))',
}

_TEMPLATE = '''\
# bash completion for pssh. Made by "pssh --completion bash"; load it with
#   source <(pssh --completion bash)
_pssh_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]} i=1 n value=0 option=
    COMPREPLY=()
    # Walk the words before the cursor: options, their values, and where the
    # remote command begins (then there is nothing of ours to complete).
    while ((i < COMP_CWORD)); do
        case ${COMP_WORDS[i]} in
%(takes)s
            --) return 0 ;;
            -*) n=0 ;;
            *) return 0 ;;
        esac
        option=${COMP_WORDS[i]}
        ((i++))
        [[ $n -gt 0 && ${COMP_WORDS[i]} == = ]] && ((i++))  # --option=value
        if ((i + n > COMP_CWORD)); then  # the cursor is on value number $value
            value=$((COMP_CWORD - i + 1))
            ((value < 1)) && value=1
            break
        fi
        ((i += n))
    done
    [[ $cur == = ]] && cur=
    if ((value > 0)); then
        case $option:$value in
%(values)s
        esac
        return 0
    fi
    [[ $cur == -* ]] && COMPREPLY=($(compgen -W "%(words)s" -- "$cur"))
    return 0
}
complete -F _pssh_complete pssh
'''


def bash_script(parser: argparse.ArgumentParser, ssh_options: List[str]) -> str:
    """The bash completion script for ``parser``'s options; ``-o`` completes
    ``ssh_options`` (as ``Keyword=``)."""
    takes: Dict[int, List[str]] = {}
    values: List[str] = []
    words: List[str] = []
    for action in parser._actions:
        if not action.option_strings:
            continue
        words.extend(action.option_strings)
        count = 0 if action.nargs == 0 else action.nargs if isinstance(action.nargs, int) else 1
        if not count:
            continue
        takes.setdefault(count, []).extend(action.option_strings)
        kinds = _VALUES.get(action.dest, ['none'] * count)
        for index, kind in enumerate(kinds, 1):
            if kind == 'none' and not action.choices:
                continue
            if action.choices:
                command = 'COMPREPLY=($(compgen -W "%s" -- "$cur"))' % ' '.join(action.choices)
            elif kind == 'option':
                command = _COMPGEN[kind] % ' '.join(name + '=' for name in ssh_options)
            else:
                command = _COMPGEN[kind]
            patterns = '|'.join('%s:%d' % (name, index) for name in action.option_strings)
            values.append('            %s) %s ;;' % (patterns, command))
    return _TEMPLATE % dict(
        takes='\n'.join('            %s) n=%d ;;' % ('|'.join(names), count)
                        for count, names in sorted(takes.items())),
        values='\n'.join(values), words=' '.join(sorted(words)))

"""Node sets: many host names written as one, the way clush and pdsh write them.

``web[01-12,20].example.com`` is web01 to web12 and web20 of example.com (a
number written with a leading zero keeps its width); ``rack[1-2]-node[1-3]``
is every combination of the two groups, the left one varying slowest;
``node[1-9/2]`` counts in steps of two. Several names are separated by commas
or white space outside the brackets. A bracket whose content is not a range
list but holds a colon is an IPv6 address (``[::1]:2222``) and is kept as
written.

:func:`expand` turns a node set into names, :func:`fold` does the reverse.
This module uses the standard library only.
"""
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ['NodeSetError', 'expand', 'expand_all', 'fold', 'fold_key']

#: Most names one node set may expand to: a typo such as ``[1-1000000]``
#: should fail at once, not eat the memory.
MAX_NODES = 100000

_RANGE = re.compile(r'(\d+)(?:-(\d+))?(?:/(\d+))?$')


class NodeSetError(ValueError):
    """A node set that cannot be read.

    ``args`` is ``(message, text, position)``: what is wrong, the node set, and
    the 0-based index of the mistake in it. ``str()`` shows the text with a
    caret under that position.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(message, text, position)
        self.message = message
        self.text = text
        self.position = position

    def __str__(self) -> str:
        return '%s at column %d:\n  %s\n  %s^' % (self.message, self.position + 1, self.text,
                                                 ' ' * self.position)


def _split_top(text: str) -> List[Tuple[str, int]]:
    """Split at commas and white space outside brackets: (piece, offset) pairs."""
    pieces: List[Tuple[str, int]] = []
    depth = 0
    start = 0
    opened = -1
    for index, char in enumerate(text):
        if char == '[':
            if depth:
                raise NodeSetError('brackets cannot nest', text, index)
            depth = 1
            opened = index
        elif char == ']':
            if not depth:
                raise NodeSetError("']' without '['", text, index)
            depth = 0
        elif not depth and (char == ',' or char.isspace()):
            if index > start:
                pieces.append((text[start:index], start))
            start = index + 1
    if depth:
        raise NodeSetError("'[' is never closed", text, opened)
    if len(text) > start:
        pieces.append((text[start:], start))
    return pieces


def _range_items(body: str, text: str, offset: int) -> List[str]:
    """The numbers of one bracket's range list, as strings with their padding."""
    items: List[str] = []
    position = offset
    for part in body.split(','):
        match = _RANGE.match(part)
        if not match:
            raise NodeSetError('%r is not a number or a range (such as 1-5 or 01-10/2)'
                               % (part,), text, position)
        first_text, last_text, step_text = match.groups()
        first = int(first_text)
        last = int(last_text) if last_text is not None else first
        step = int(step_text) if step_text is not None else 1
        if last < first:
            raise NodeSetError('range %r goes downwards' % (part,), text, position)
        if step < 1:
            raise NodeSetError('step of %r must be at least 1' % (part,), text, position)
        if (last - first) // step + len(items) >= MAX_NODES:
            raise NodeSetError('range %r has more than %d numbers' % (part, MAX_NODES),
                               text, position)
        width = len(first_text) if first_text.startswith('0') and len(first_text) > 1 else 0
        if width and last_text is not None and len(last_text) > width:
            raise NodeSetError('%r: the padded start %s is narrower than the end %s'
                               % (part, first_text, last_text), text, position)
        items.extend('%0*d' % (width, number) for number in range(first, last + 1, step))
        position += len(part) + 1
    return items


def _is_range_list(body: str) -> bool:
    return all(_RANGE.match(part) for part in body.split(','))


def _expand_piece(piece: str, text: str, offset: int) -> List[str]:
    names = ['']
    index = 0
    while index < len(piece):
        opened = piece.find('[', index)
        if opened < 0:
            literal = piece[index:]
            names = [name + literal for name in names]
            break
        closed = piece.index(']', opened)
        literal = piece[index:opened]
        body = piece[opened + 1:closed]
        if not body:
            raise NodeSetError('empty brackets', text, offset + opened)
        if ':' in body and not _is_range_list(body):
            # An IPv6 address, as in [::1]:22: kept with its brackets.
            options = ['[%s]' % body]
        else:
            options = _range_items(body, text, offset + opened + 1)
        if len(names) * len(options) > MAX_NODES:
            raise NodeSetError('more than %d names' % MAX_NODES, text, offset + opened)
        names = [name + literal + option for name in names for option in options]
        index = closed + 1
    return names


def expand(text: str) -> List[str]:
    """The names of node set ``text``, in order, each once.

    :raises NodeSetError: the text is not a node set (an unclosed or nested
      bracket, a range that is not numbers, a range going downwards...), with
      the position of the mistake.
    """
    seen: Dict[str, None] = {}
    for piece, offset in _split_top(text):
        for name in _expand_piece(piece, text, offset):
            seen.setdefault(name, None)
    return list(seen)


def expand_all(node_sets: Iterable[str], exclude: Iterable[str] = ()) -> List[str]:
    """The names of several node sets, duplicates removed (the first one
    kept), less the names of the ``exclude`` node sets."""
    seen: Dict[str, None] = {}
    for text in node_sets:
        for name in expand(text):
            seen.setdefault(name, None)
    for text in exclude:
        for name in expand(text):
            seen.pop(name, None)
    return list(seen)


# ----------------------------------------------------------------------
# Folding names back into node sets.

_LAST_NUMBER = re.compile(r'^(.*?)(\d+)(\D*)$', re.S)


def _natural(name: str) -> Tuple:
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r'(\d+)', name))


def fold_key(name: str) -> Tuple:
    """A sort key that puts node2 before node10."""
    return _natural(name)


def _ranges(numbers: Sequence[int], width: int) -> str:
    out: List[str] = []
    start = previous = numbers[0]
    following: List[Optional[int]] = list(numbers[1:])
    for number in following + [None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        if start == previous:
            out.append('%0*d' % (width, start))
        else:
            out.append('%0*d-%0*d' % (width, start, width, previous))
        if number is not None:
            start = previous = number
    return ','.join(out)


def fold(names: Iterable[str]) -> str:
    """One node set for ``names``: ``web[01-03,07],db1``. Names that differ in
    their last number only are folded together; padding is kept."""
    groups: Dict[Tuple[str, str, int], List[int]] = {}
    plain: List[str] = []
    unique = list(dict.fromkeys(names))
    padded_widths: Dict[Tuple[str, str], set] = {}
    parsed: List[Tuple[str, Optional[Tuple[str, str, str]]]] = []
    for name in unique:
        match = _LAST_NUMBER.match(name)
        if match is None or '[' in name:
            parsed.append((name, None))
            continue
        prefix, digits, suffix = match.groups()
        parsed.append((name, (prefix, digits, suffix)))
        if len(digits) > 1 and digits.startswith('0'):
            padded_widths.setdefault((prefix, suffix), set()).add(len(digits))
    for name, parts in parsed:
        if parts is None:
            plain.append(name)
            continue
        prefix, digits, suffix = parts
        width = len(digits) if len(digits) in padded_widths.get((prefix, suffix), ()) else 0
        if width == 0 and digits.startswith('0') and len(digits) > 1:
            width = len(digits)
        groups.setdefault((prefix, suffix, width), []).append(int(digits))
    pieces: List[Tuple[Tuple, str]] = []
    for (prefix, suffix, width), numbers in groups.items():
        numbers = sorted(set(numbers))
        if len(numbers) == 1:
            text = '%s%0*d%s' % (prefix, width, numbers[0], suffix)
        else:
            text = '%s[%s]%s' % (prefix, _ranges(numbers, width), suffix)
        pieces.append((_natural('%s%0*d%s' % (prefix, width, numbers[0], suffix)), text))
    pieces.extend((_natural(name), name) for name in plain)
    pieces.sort(key=lambda item: item[0])
    return ','.join(text for _, text in pieces)

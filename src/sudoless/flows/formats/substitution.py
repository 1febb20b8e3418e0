"""Azkaban's property substitution: ``${name}`` references, then ``$( expression )`` arithmetic.

This is what ``PropsUtils.resolveProps`` does to a job's merged properties when the job starts, and the
error messages are Azkaban's, so a user porting a project sees the failures they know. The expressions
are evaluated by :mod:`sudoless.flows.formats.jexl`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sudoless.errors import SubstitutionError
from sudoless.flows.formats.jexl import evaluate_expressions

__all__ = ["resolve_known", "resolve_props", "substitute"]

_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")
_MARK = re.compile("\x00([A-Za-z0-9_.]+)\x00")


def resolve_props(props: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``props`` with every ``${name}`` and then every ``$( ... )`` resolved.

    A reference is resolved from the same mapping, recursively; text a substitution produces is not
    scanned again. Names may only hold letters, digits, ``_`` and ``.``; anything else (``${a-b}``,
    ``${job:param}``) stays literal. Raises :class:`~sudoless.errors.SubstitutionError` for a circular
    or undefined reference and for an expression that does not parse or evaluate.
    """
    try:  # most jobs' values have no "$" at all: one scan of them joined, not two tests of each in Python
        if "$" not in "".join(props.values()):
            return dict(props)
    except TypeError:  # a None among them (a property without a value): the loop below makes it ""
        pass
    resolved: dict[str, str] = {}
    for key, value in props.items():
        if value is None or "$" not in value:
            resolved[key] = value or ""  # nothing to substitute or evaluate: most of a job's values
        elif key not in resolved:
            _resolve_key(key, props, resolved)
    return {key: evaluate_expressions(v, key) if "$(" in (v := resolved[key]) else v for key in props}


def resolve_known(props: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """What :func:`resolve_props` gives, as far as ``props`` can tell: references to names it lacks stay
    as written (``${name}``, with no ``$( ... )`` evaluated in that value) and the value's key is returned
    with the reason, as is a value that cannot resolve at all (kept as written). A preview of a job's
    properties before a run supplies everything (its parents' outputs, the run's built-ins)."""
    missing = {name for value in props.values() for name in _REFERENCE.findall(value or "") if name not in props}
    marked: dict[str, str] = {**props, **{name: f"\x00{name}\x00" for name in missing}}
    resolved: dict[str, str] = {}
    out: dict[str, str] = {}
    problems: dict[str, str] = {}
    for key in props:
        try:
            _resolve_key(key, marked, resolved)
            text = resolved[key]
            if "\x00" in text:
                names = sorted(set(_MARK.findall(text)))
                out[key] = _MARK.sub(lambda m: "${" + m.group(1) + "}", text)
                problems[key] = f"Could not find variable substitution for variable(s) [{', '.join(names)}]"
            else:
                out[key] = evaluate_expressions(text, key)
        except SubstitutionError as exc:
            out[key] = props[key] or ""
            problems[key] = str(exc)
    return out, problems


def substitute(text: str, props: Mapping[str, str]) -> str:
    """Resolve one string against already-resolved ``props``: ``${name}`` once, then ``$( ... )``.

    The values of ``props`` are inserted as they are, without looking for references inside them.
    """

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in props:
            raise SubstitutionError(f"Could not find variable substitution for variable(s) [{name}]")
        return props[name]

    return evaluate_expressions(_REFERENCE.sub(lookup, text), None)


class _Frame:
    __slots__ = ("key", "value", "position", "parts")

    def __init__(self, key: str, value: str) -> None:
        self.key = key
        self.value = value
        self.position = 0
        self.parts: list[str] = []


def _resolve_key(key: str, props: Mapping[str, str], resolved: dict[str, str]) -> None:
    """Resolve ``key`` into ``resolved``, memoising every key met on the way.

    Uses an explicit stack so that a long chain of references cannot exhaust Python's recursion limit.
    """
    if key in resolved:
        return
    stack = [_Frame(key, props[key] or "")]
    chain = [key]
    in_chain = {key}
    while stack:
        frame = stack[-1]
        match = _REFERENCE.search(frame.value, frame.position)
        if match is None:
            frame.parts.append(frame.value[frame.position :])
            text = "".join(frame.parts)
            resolved[frame.key] = text
            stack.pop()
            in_chain.discard(chain.pop())
            if stack:
                stack[-1].parts.append(text)
            continue
        frame.parts.append(frame.value[frame.position : match.start()])
        frame.position = match.end()
        name = match.group(1)
        if name in in_chain:
            raise SubstitutionError(f"Circular variable substitution found: [{'->'.join(chain)}] -> [{name}]")
        if name in resolved:
            frame.parts.append(resolved[name])
            continue
        if name not in props:
            raise SubstitutionError(
                f"Could not find variable substitution for variable(s) [{'->'.join([*chain, name])}]"
            )
        chain.append(name)
        in_chain.add(name)
        stack.append(_Frame(name, props[name] or ""))

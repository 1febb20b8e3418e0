"""Azkaban conditional workflows: the ``condition`` of a node, checked at load time and evaluated at run time.

A condition combines at most one job-status macro (``all_success``, ``one_failed``, ...) with comparisons
of parents' output parameters, written ``${job:param}``, against numbers and quoted strings, joined by
``== != > >= < <= && || !`` and parentheses. :func:`parse_condition` rejects what Azkaban rejects at
upload, with Azkaban's messages; :meth:`Condition.evaluate` decides at run time whether the node runs.
Azkaban hands the expression to the JVM's JavaScript engine; here a small parser evaluates the same
operators with JavaScript's loose comparison rules, and nothing else can be expressed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from sudoless.errors import ConditionError
from sudoless.flows.formats.literals import unescape
from sudoless.store.status import Status

__all__ = ["Condition", "Macro", "parse_condition"]


class Macro(StrEnum):
    """A condition on the statuses of a node's direct parents (Azkaban's ``ConditionOnJobStatus``)."""

    ALL_SUCCESS = "all_success"
    ALL_DONE = "all_done"
    ALL_FAILED = "all_failed"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"

    def satisfied(self, parent_statuses: Iterable[Status]) -> bool:
        """Whether the parents' statuses meet this macro.

        Succeeded means SUCCEEDED, FAILED_SUCCEEDED or SKIPPED; failed means FAILED, KILLED, CANCELLED or
        EXECUTION_STOPPED; done means any finished status. The ``one_*`` macros look only at the statuses
        given: the runner must wait until every parent has finished before asking, as Azkaban does.
        A node without parents satisfies every macro except ``all_failed`` and ``one_failed``.
        """
        statuses = list(parent_statuses)
        if self is Macro.ALL_SUCCESS:
            return all(status.is_success for status in statuses)
        if self is Macro.ALL_DONE:
            return all(status.is_finished for status in statuses)
        if self is Macro.ONE_SUCCESS:
            return not statuses or any(status.is_success for status in statuses)
        if self is Macro.ALL_FAILED:
            return bool(statuses) and all(status.is_failure for status in statuses)
        return any(status.is_failure for status in statuses)


_MACROS = {macro.value: macro for macro in Macro}
_OPERATORS = ("&&", "||", "==", "!=", ">=", "<=", ">", "<", "!")
_BINARY_LEVELS = (("||",), ("&&",), ("==", "!="), (">", ">=", "<", "<="))
_MAX_NESTING = 50
_UNRESOLVABLE = "cannot resolve the condition. Please check the syntax for supported conditions."


@dataclass(frozen=True)
class Condition:
    """A validated condition. ``macro`` is ``all_success`` when the text names none (Azkaban's default).

    ``variables`` lists each ``(job, param)`` the text reads, once, in order of first appearance.
    """

    text: str
    macro: Macro
    variables: tuple[tuple[str, str], ...]

    def evaluate(self, parent_statuses: Mapping[str, Status], outputs: Mapping[str, Mapping[str, str]]) -> bool:
        """Whether the node should run, given its direct parents' statuses and the jobs' output parameters.

        False when the macro is not met. Otherwise the macro counts as ``true`` and each ``${job:param}``
        as the string ``outputs[job][param]`` (the string ``'null'`` when missing), compared with
        JavaScript's loose rules (``'7' > 5`` is true, ``'10' < '9'`` is true). A result that is not a
        boolean, or any failure to evaluate, gives False; this method never raises.
        """
        if not self.macro.satisfied(parent_statuses.values()):
            return False
        try:
            tree = self._tree
            if tree is None:
                return False
            return _evaluate(tree, outputs) is True
        except Exception:
            return False

    @cached_property
    def _tree(self) -> _Node | None:
        try:
            return _Parser(self.text, None).parse()
        except ConditionError:
            return None


def parse_condition(text: str, node: str, flow_nodes: Collection[str], descendants: Collection[str]) -> Condition:
    """Validate the condition of ``node`` the way Azkaban does when a project is uploaded.

    ``flow_nodes`` are the names of the nodes in the same flow and ``descendants`` those that depend on
    ``node``, directly or not. Raises :class:`~sudoless.errors.ConditionError` with Azkaban's message,
    ``Invalid condition for <node>: ...``, for the first problem in reading order: more than one macro,
    an empty operand, a ``${job:param}`` on a job that is not in the flow or that is a descendant, or
    anything that is not a macro, number, quoted string, ``${job:param}``, operator or parenthesis.
    A reference to a job that is neither an ancestor nor a descendant is accepted, as in Azkaban; its
    output is simply missing (``'null'``) unless that job has finished by then.
    """
    parser = _Parser(text, _Scope(node, flow_nodes, descendants))
    parser.parse()
    return Condition(
        text=text, macro=parser.macro or Macro.ALL_SUCCESS, variables=tuple(dict.fromkeys(parser.variables))
    )


@dataclass(frozen=True)
class _Scope:
    node: str
    flow_nodes: Collection[str]
    descendants: Collection[str]


@dataclass(frozen=True)
class _Token:
    kind: str
    value: str | float = ""
    job: str = ""
    param: str = ""


_JsValue = bool | float | str


@dataclass(frozen=True)
class _Value:
    """A literal operand (a macro's place holds True: the macro itself is checked apart)."""

    value: _JsValue


@dataclass(frozen=True)
class _Var:
    """``${job:param}``: a finished job's output parameter, ``'null'`` when it has none."""

    job: str
    param: str


@dataclass(frozen=True)
class _Not:
    operand: _Node


@dataclass(frozen=True)
class _Op:
    operator: str
    left: _Node
    right: _Node


_Node = _Value | _Var | _Not | _Op

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _tokenize(text: str) -> list[_Token]:
    """Split a condition into tokens; the first thing that is not a valid token becomes a ``bad`` token."""
    tokens: list[_Token] = []
    index = 0
    size = len(text)
    while index < size:
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char in "()":
            tokens.append(_Token(char))
            index += 1
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, index)), None)
        if operator is not None:
            tokens.append(_Token("op", operator))
            index += len(operator)
            continue
        if char in "'\"":
            end, value = _read_string(text, index)
            if end < 0:
                break
            tokens.append(_Token("value", value))
            index = end
            continue
        number = _NUMBER.match(text, index)
        if number is not None:
            tokens.append(_Token("value", float(number.group())))
            index = number.end()
            continue
        if text.startswith("${", index):
            end, job, param = _read_variable(text, index)
            if end < 0:
                break
            tokens.append(_Token("var", job=job, param=param))
            index = end
            continue
        word = _WORD.match(text, index)
        if word is not None and word.group().lower() in _MACROS:
            tokens.append(_Token("macro", word.group().lower()))
            index = word.end()
            continue
        break
    if index < size:
        tokens.append(_Token("bad"))
    tokens.append(_Token("end"))
    return tokens


def _read_string(text: str, start: int) -> tuple[int, str]:
    """Read a quoted string starting at ``start``; return (index after it, its value), or (-1, "")."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            return index + 1, unescape(text[start + 1 : index], _STRING_ESCAPES, {"u": 4, "x": 2})
        index += 2 if char == "\\" else 1
    return -1, ""


def _read_variable(text: str, start: int) -> tuple[int, str, str]:
    """Read ``${job:param}`` (neither part empty nor holding ``:{}``); return (end, job, param) or -1."""
    index = start + 2
    size = len(text)
    job_start = index
    while index < size and text[index] not in ":{}":
        index += 1
    if index == job_start or index >= size or text[index] != ":":
        return -1, "", ""
    job = text[job_start:index]
    index += 1
    param_start = index
    while index < size and text[index] not in ":{}":
        index += 1
    if index == param_start or index >= size or text[index] != "}":
        return -1, "", ""
    return index + 1, job, text[param_start:index]


class _Parser:
    """Recursive-descent parser with JavaScript precedence; validates against ``scope`` when given."""

    def __init__(self, text: str, scope: _Scope | None) -> None:
        self._tokens = _tokenize(text)
        self._index = 0
        self._scope = scope
        self._nesting = 0
        self.macro: Macro | None = None
        self.variables: list[tuple[str, str]] = []

    def parse(self) -> _Node:
        tree = self._binary(0)
        if self._peek().kind != "end":
            raise self._error(_UNRESOLVABLE)
        return tree

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _take(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != "end":
            self._index += 1
        return token

    def _error(self, reason: str) -> ConditionError:
        node = self._scope.node if self._scope else "?"
        return ConditionError(f"Invalid condition for {node}: {reason}")

    def _binary(self, level: int) -> _Node:
        if level == len(_BINARY_LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while self._peek().kind == "op" and self._peek().value in _BINARY_LEVELS[level]:
            operator = str(self._take().value)
            right = self._binary(level + 1)
            left = _Op(operator, left, right)
        return left

    def _unary(self) -> _Node:
        token = self._peek()
        if token.kind == "op" and token.value == "!":
            self._take()
            self._enter()
            operand = self._unary()
            self._nesting -= 1
            return _Not(operand)
        return self._primary()

    def _primary(self) -> _Node:
        token = self._take()
        if token.kind == "value":
            return _Value(token.value)
        if token.kind == "macro":
            if self.macro is not None:
                raise self._error("cannot combine more than one conditionOnJobStatus macros.")
            self.macro = _MACROS[str(token.value)]
            return _Value(True)
        if token.kind == "var":
            self._check_variable(token.job)
            self.variables.append((token.job, token.param))
            return _Var(token.job, token.param)
        if token.kind == "(":
            self._enter()
            inner = self._binary(0)
            if self._take().kind != ")":
                raise self._error(_UNRESOLVABLE)
            self._nesting -= 1
            return inner
        if token.kind in ("end", ")", "op"):
            raise self._error("operand is an empty string.")
        raise self._error(_UNRESOLVABLE)

    def _check_variable(self, job: str) -> None:
        if self._scope is None:
            return
        if job not in self._scope.flow_nodes:
            raise self._error(f"{job} doesn't exist in the flow.")
        if job in self._scope.descendants:
            raise self._error(f"should not define condition on its descendant node {job}.")

    def _enter(self) -> None:
        self._nesting += 1
        if self._nesting > _MAX_NESTING:
            raise self._error(_UNRESOLVABLE)


def _evaluate(tree: _Node, outputs: Mapping[str, Mapping[str, str]]) -> _JsValue:
    if isinstance(tree, _Value):
        return tree.value
    if isinstance(tree, _Var):
        value = outputs.get(tree.job, {}).get(tree.param)
        return "null" if value is None else str(value)
    if isinstance(tree, _Not):
        return not _truthy(_evaluate(tree.operand, outputs))
    operator, left_tree, right_tree = tree.operator, tree.left, tree.right
    left = _evaluate(left_tree, outputs)
    if operator == "&&":
        return _evaluate(right_tree, outputs) if _truthy(left) else left
    if operator == "||":
        return left if _truthy(left) else _evaluate(right_tree, outputs)
    return _COMPARISONS[operator](left, _evaluate(right_tree, outputs))


def _truthy(value: _JsValue) -> bool:
    if isinstance(value, str):
        return value != ""
    if isinstance(value, float):
        return not math.isnan(value) and value != 0.0
    return value


_JS_NUMBER = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_JS_HEX = re.compile(r"0[xX][0-9a-fA-F]+")


def _to_number(value: _JsValue) -> float:
    """JavaScript's ``ToNumber`` for the three types a condition can hold."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    text = value.strip()
    if not text:
        return 0.0
    if _JS_HEX.fullmatch(text):
        return float(int(text, 16))
    if _JS_NUMBER.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    return math.nan


def _loose_equals(left: _JsValue, right: _JsValue) -> bool:
    """JavaScript's ``==``: same types compare directly, anything else compares as numbers."""
    if type(left) is type(right):
        return left == right
    return _to_number(left) == _to_number(right)


def _relation(test: Callable[[int], bool]) -> Callable[[_JsValue, _JsValue], bool]:
    """JavaScript's ``< <= > >=``: two strings compare by UTF-16 code units, anything else as numbers."""

    def apply(left: _JsValue, right: _JsValue) -> bool:
        if isinstance(left, str) and isinstance(right, str):
            lhs_text = left.encode("utf-16-be", "surrogatepass")
            rhs_text = right.encode("utf-16-be", "surrogatepass")
            return test((lhs_text > rhs_text) - (lhs_text < rhs_text))
        lhs, rhs = _to_number(left), _to_number(right)
        if math.isnan(lhs) or math.isnan(rhs):
            return False
        return test((lhs > rhs) - (lhs < rhs))

    return apply


_COMPARISONS: dict[str, Callable[[_JsValue, _JsValue], bool]] = {
    "==": _loose_equals,
    "!=": lambda left, right: not _loose_equals(left, right),
    "<": _relation(lambda order: order < 0),
    "<=": _relation(lambda order: order <= 0),
    ">": _relation(lambda order: order > 0),
    ">=": _relation(lambda order: order >= 0),
}

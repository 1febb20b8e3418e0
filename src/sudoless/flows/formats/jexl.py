"""``$( expression )`` in property values: a small subset of Apache JEXL 2, the engine Azkaban embeds.

A hand-written parser evaluates numbers, strings, ``true``/``false``/``null``, arithmetic, comparisons
and logic. Nothing in an expression can reach Python, the file system or the environment.

Like JEXL with an empty context, a bare word is an undefined variable and evaluates to null, and a
``$( ... )`` that evaluates to null is left in the text unchanged. That is why shell command
substitutions such as ``$(date)`` or ``$(pwd)`` survive into a command line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal

from sudoless.errors import SubstitutionError
from sudoless.flows.formats.literals import unescape

__all__ = ["evaluate_expressions"]

_EXPRESSION_MARKS = re.compile(r"\$\(|[()]")
_SHOWN_CHARS = 200
_MAX_NESTING = 40

_Value = bool | int | float | str | None


class _Open:
    __slots__ = ("start", "parts", "depth", "unresolved")

    def __init__(self, start: int) -> None:
        self.start = start
        self.parts: list[str] = []
        self.depth = 0
        self.unresolved = False


def evaluate_expressions(value: str, key: str | None) -> str:
    """Replace each ``$( ... )`` by its value, innermost first, in one left-to-right pass.

    Parentheses are matched by counting, as Azkaban does, without regard to quotes. An expression that
    evaluates to null, or that contains one that did, is kept as written.
    """
    if "$(" not in value:
        return value
    root: list[str] = []
    stack: list[_Open] = []
    done = 0
    for mark in _EXPRESSION_MARKS.finditer(value):
        here = mark.start()
        (stack[-1].parts if stack else root).append(value[done:here])
        done = mark.end()
        token = mark.group()
        if token == "$(":
            stack.append(_Open(here))
        elif not stack:
            root.append(token)
        elif token == "(":
            stack[-1].depth += 1
            stack[-1].parts.append(token)
        elif stack[-1].depth:
            stack[-1].depth -= 1
            stack[-1].parts.append(token)
        else:
            frame = stack.pop()
            source = "".join(frame.parts)
            result = None if frame.unresolved else _evaluate(source, key)
            if result is None:
                text = f"$({source})"
                if stack:
                    stack[-1].unresolved = True
            else:
                text = result
            (stack[-1].parts if stack else root).append(text)
    if stack:
        raise _malformed(value[stack[0].start :], "The '$(' is never closed.", key)
    root.append(value[done:])
    return "".join(root)


def _malformed(expression: str, reason: str, key: str | None) -> SubstitutionError:
    shown = expression if len(expression) <= _SHOWN_CHARS else expression[:_SHOWN_CHARS] + "..."
    where = f" (property '{key}')" if key is not None else ""
    return SubstitutionError(f"Expression {shown} not well formed. {reason}{where}")


class _ExpressionError(Exception):
    """A parse or evaluation failure inside one expression; becomes a SubstitutionError."""


def _evaluate(source: str, key: str | None) -> str | None:
    """Evaluate the inside of one ``$( ... )``; return its rendered value, or None for null or blank."""
    if not source.strip():
        return None
    try:
        result = _Parser(source).run()
        return None if result is None else _render(result)
    except _ExpressionError as exc:
        reason = str(exc)
    except (ArithmeticError, ValueError, RecursionError):
        reason = "A number is too large or the expression too deeply nested."
    raise _malformed(f"$({source})", reason, key)


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?[fFdD]?|\d+[eE][+-]?\d+[fFdD]?|\d+[fFdD])
  | (?P<int>0[xX][0-9a-fA-F]+[lL]?|\d+[lL]?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!()])
""",
    re.VERBOSE | re.DOTALL,
)

_WORD_OPERATORS = {
    "and": "&&",
    "or": "||",
    "not": "!",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "div": "/",
    "mod": "%",
}
_LITERALS: dict[str, _Value] = {"true": True, "false": False, "null": None}
_UNSUPPORTED_WORDS = frozenset(
    {"empty", "size", "new", "function", "var", "return", "if", "else", "for", "while", "foreach", "in"}
)
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",),
    ("&&",),
    ("==", "!="),
    ("<", "<=", ">", ">="),
    ("+", "-"),
    ("*", "/", "%"),
)
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _tokens(source: str) -> Iterator[tuple[str, _Value]]:
    position = 0
    size = len(source)
    while position < size:
        match = _TOKEN.match(source, position)
        if match is None:
            raise _ExpressionError(f"Unexpected {source[position]!r} at offset {position}.")
        position = match.end()
        kind = match.lastgroup
        text = match.group()
        if kind == "space":
            continue
        if kind == "float":
            yield "value", float(text.rstrip("fFdD"))
        elif kind == "int":
            digits = text.rstrip("lL")
            yield "value", int(digits, 16) if digits[:2] in ("0x", "0X") else int(digits)
        elif kind == "string":
            yield "value", _unquote(text[1:-1])
        elif kind == "word":
            if text in _WORD_OPERATORS:
                yield "op", _WORD_OPERATORS[text]
            elif text in _LITERALS:
                yield "value", _LITERALS[text]
            elif text in _UNSUPPORTED_WORDS:
                raise _ExpressionError(f"'{text}' is not supported.")
            else:
                yield "value", None
        else:
            yield "op", text
    yield "end", None


def _unquote(body: str) -> str:
    return unescape(body, _STRING_ESCAPES, {"u": 4})


class _Parser:
    """Precedence-climbing parser that evaluates as it parses.

    The right operand of a short-circuited ``&&``/``||`` is parsed with ``live=False``: checked for
    syntax but not evaluated, so ``false && 1/0`` is ``false`` as in JEXL.
    """

    def __init__(self, source: str) -> None:
        self._tokens = _tokens(source)
        self._kind, self._token = next(self._tokens)
        self._nesting = 0

    def run(self) -> _Value:
        result = self._binary(0, True)
        if self._kind != "end":
            raise _ExpressionError(f"Unexpected {self._describe()} after a complete expression.")
        return result

    def _advance(self) -> None:
        self._kind, self._token = next(self._tokens)

    def _describe(self) -> str:
        if self._kind == "end":
            return "end of expression"
        if self._kind == "op":
            return f"'{self._token}'"
        return f"value {self._token!r}"

    def _binary(self, level: int, live: bool) -> _Value:
        if level == len(_LEVELS):
            return self._unary(live)
        operators = _LEVELS[level]
        left = self._binary(level + 1, live)
        while self._kind == "op" and self._token in operators:
            operator = self._token
            self._advance()
            if operator == "&&":
                left_true = live and _to_boolean(left)
                right = self._binary(level + 1, left_true)
                left = left_true and _to_boolean(right) if live else None
            elif operator == "||":
                left_true = live and _to_boolean(left)
                right = self._binary(level + 1, live and not left_true)
                left = (left_true or _to_boolean(right)) if live else None
            else:
                right = self._binary(level + 1, live)
                left = _BINARY[str(operator)](left, right) if live else None
        return left

    def _unary(self, live: bool) -> _Value:
        if self._kind == "op" and self._token in ("!", "-"):
            operator = self._token
            self._enter()
            self._advance()
            operand = self._unary(live)
            self._nesting -= 1
            if not live:
                return None
            return (not _to_boolean(operand)) if operator == "!" else _negate(operand)
        return self._primary(live)

    def _primary(self, live: bool) -> _Value:
        if self._kind == "value":
            value = self._token
            self._advance()
            return value
        if self._kind == "op" and self._token == "(":
            self._enter()
            self._advance()
            value = self._binary(0, live)
            if not (self._kind == "op" and self._token == ")"):
                raise _ExpressionError(f"Expected ')' but found {self._describe()}.")
            self._advance()
            self._nesting -= 1
            return value
        raise _ExpressionError(f"Expected a value but found {self._describe()}.")

    def _enter(self) -> None:
        self._nesting += 1
        if self._nesting > _MAX_NESTING:
            raise _ExpressionError(f"Nested more than {_MAX_NESTING} levels deep.")


_NUMERIC_STRING = re.compile(r"\s*[+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[fFdD]?\s*")
_INTEGER_STRING = re.compile(r"[+-]?\d+")


def _looks_floating(value: _Value) -> bool:
    """JEXL's test for "use double arithmetic": a float, or a string containing '.', 'e' or 'E'."""
    if isinstance(value, float):
        return True
    return isinstance(value, str) and any(mark in value for mark in ".eE")


def _to_float(value: _Value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str):
        if value == "":
            return math.nan
        if not _NUMERIC_STRING.fullmatch(value):
            raise ValueError(value)
        return float(value.strip().rstrip("fFdD"))
    return float(value)


def _to_int(value: _Value) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        if value == "":
            return 0
        if not _INTEGER_STRING.fullmatch(value):
            raise ValueError(value)
        return int(value)
    if isinstance(value, float):
        return 0 if math.isnan(value) else int(value)
    return int(value)


def _is_integer(value: _Value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _to_boolean(value: _Value) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value != "" and value != "false"
    if isinstance(value, float):
        return not math.isnan(value) and value != 0.0
    return bool(value)


def _to_string(value: _Value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return _render(value)


def _arithmetic(
    float_op: Callable[[float, float], float],
    int_op: Callable[[int, int], int],
    symbol: str,
) -> Callable[[_Value, _Value], _Value]:
    """Build one of JEXL's arithmetic operators: null+null is 0, floats win, otherwise integers."""

    def apply(left: _Value, right: _Value) -> _Value:
        if left is None and right is None:
            return 0
        if isinstance(left, bool) or isinstance(right, bool):
            raise _ExpressionError(f"Cannot apply '{symbol}' to {_render_operand(left)} and {_render_operand(right)}.")
        try:
            if _looks_floating(left) or _looks_floating(right):
                return float_op(_to_float(left), _to_float(right))
            return int_op(_to_int(left), _to_int(right))
        except ValueError:
            if symbol == "+":
                return _to_string(left) + _to_string(right)
            raise _ExpressionError(
                f"Cannot apply '{symbol}' to {_render_operand(left)} and {_render_operand(right)}."
            ) from None
        except ZeroDivisionError:
            raise _ExpressionError(f"Division by zero ('{symbol}').") from None

    return apply


def _divide_floats(left: float, right: float) -> float:
    if right == 0.0:
        raise ZeroDivisionError
    return left / right


def _divide_ints(left: int, right: int) -> int:
    if right == 0:
        raise ZeroDivisionError
    quotient = abs(left) // abs(right)
    return quotient if (left < 0) == (right < 0) else -quotient


def _mod_floats(left: float, right: float) -> float:
    if right == 0.0:
        raise ZeroDivisionError
    return math.fmod(left, right)


def _mod_ints(left: int, right: int) -> int:
    if right == 0:
        raise ZeroDivisionError
    if right < 0:
        raise _ExpressionError("The modulus must be positive (BigInteger.mod).")
    return left % right


def _compare(left: _Value, right: _Value, symbol: str) -> int:
    """JEXL's ordering of two non-null values: numeric when either side is a number, else textual."""
    try:
        if isinstance(left, bool) and isinstance(right, bool):
            return int(left) - int(right)
        if isinstance(left, float) or isinstance(right, float):
            lhs, rhs = _to_float(left), _to_float(right)
            if math.isnan(lhs) or math.isnan(rhs):
                return (0 if math.isnan(rhs) else -1) if math.isnan(lhs) else 1
            return (lhs > rhs) - (lhs < rhs)
        if _is_integer(left) or _is_integer(right):
            lhs_int, rhs_int = _to_int(left), _to_int(right)
            return (lhs_int > rhs_int) - (lhs_int < rhs_int)
    except ValueError:
        raise _ExpressionError(f"Cannot compare {_render_operand(left)} {symbol} {_render_operand(right)}.") from None
    lhs_text = _to_string(left).encode("utf-16-be", "surrogatepass")
    rhs_text = _to_string(right).encode("utf-16-be", "surrogatepass")
    return (lhs_text > rhs_text) - (lhs_text < rhs_text)


def _equals(left: _Value, right: _Value) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return _to_boolean(left) == _to_boolean(right)
    return _compare(left, right, "==") == 0


def _ordered(test: Callable[[int], bool], symbol: str, when_same: bool) -> Callable[[_Value, _Value], _Value]:
    def apply(left: _Value, right: _Value) -> _Value:
        if left is None and right is None:
            return when_same
        if left is None or right is None:
            return False
        return test(_compare(left, right, symbol))

    return apply


def _negate(value: _Value) -> _Value:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return -value
    raise _ExpressionError(f"Cannot negate {_render_operand(value)}.")


_BINARY: dict[str, Callable[[_Value, _Value], _Value]] = {
    "+": _arithmetic(lambda a, b: a + b, lambda a, b: a + b, "+"),
    "-": _arithmetic(lambda a, b: a - b, lambda a, b: a - b, "-"),
    "*": _arithmetic(lambda a, b: a * b, lambda a, b: a * b, "*"),
    "/": _arithmetic(_divide_floats, _divide_ints, "/"),
    "%": _arithmetic(_mod_floats, _mod_ints, "%"),
    "==": _equals,
    "!=": lambda a, b: not _equals(a, b),
    "<": _ordered(lambda c: c < 0, "<", False),
    "<=": _ordered(lambda c: c <= 0, "<=", True),
    ">": _ordered(lambda c: c > 0, ">", False),
    ">=": _ordered(lambda c: c >= 0, ">=", True),
}


def _render_operand(value: _Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    return _render(value)


def _render(value: _Value) -> str:
    """Format a result the way Java's ``toString`` would: ``3``, ``2.5``, ``1.0E10``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    return str(value)


def _java_double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    exponent += len(digit_tuple) - len(digits)
    scientific = len(digits) + exponent - 1
    if -3 <= scientific < 7:
        if exponent >= 0:
            return f"{sign}{digits}{'0' * exponent}.0"
        point = len(digits) + exponent
        if point > 0:
            return f"{sign}{digits[:point]}.{digits[point:]}"
        return f"{sign}0.{'0' * -point}{digits}"
    mantissa = f"{digits[0]}.{digits[1:] or '0'}"
    return f"{sign}{mantissa}E{scientific}"

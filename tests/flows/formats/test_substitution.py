"""Azkaban's ``${name}`` substitution and ``$( ... )`` JEXL expressions."""

from __future__ import annotations

import contextlib
import time

import pytest

from sudoless.errors import SubstitutionError
from sudoless.flows.formats.substitution import resolve_props, substitute


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"a": "x", "b": "${a}"}, {"a": "x", "b": "x"}),
        ({"a": "${b}-${c}", "b": "B", "c": "C"}, {"a": "B-C", "b": "B", "c": "C"}),
        ({"a": "${b}${b}", "b": "B"}, {"a": "BB", "b": "B"}),
        ({"a": "${b}x", "b": "${c}y", "c": "z"}, {"a": "zyx", "b": "zy", "c": "z"}),
        ({"top": "${mid}", "mid": "${low}/${low}", "low": "v"}, {"top": "v/v", "mid": "v/v", "low": "v"}),
        (
            {"azkaban.flow.execid": "12", "out": "run-${azkaban.flow.execid}"},
            {"azkaban.flow.execid": "12", "out": "run-12"},
        ),
        ({"a_b.C9": "ok", "x": "${a_b.C9}"}, {"a_b.C9": "ok", "x": "ok"}),
        (
            {"x": "${a-b} ${job:param} ${} ${ a } $a {a} $${b}", "b": "B"},
            {"x": "${a-b} ${job:param} ${} ${ a } $a {a} $B", "b": "B"},
        ),
        ({"a": "$", "b": "{c}", "c": "C", "x": "${a}${b}"}, {"a": "$", "b": "{c}", "c": "C", "x": "${c}"}),
        ({"a": "", "b": "[${a}]"}, {"a": "", "b": "[]"}),
        ({}, {}),
    ],
)
def test_references_resolve_recursively(props: dict[str, str], expected: dict[str, str]) -> None:
    assert resolve_props(props) == expected


def test_result_is_a_new_dict_in_the_same_order() -> None:
    props = {"z": "${a}", "a": "1", "m": "2"}
    resolved = resolve_props(props)
    assert list(resolved) == ["z", "a", "m"]
    assert props == {"z": "${a}", "a": "1", "m": "2"}
    assert resolved is not props


def test_values_without_references_are_copied() -> None:
    props = {"z": "1", "a": "", "m": "(2)"}
    resolved = resolve_props(props)
    assert list(resolved.items()) == [("z", "1"), ("a", ""), ("m", "(2)")]
    assert resolved is not props
    assert resolve_props({"a": None, "b": "1"}) == {"a": "", "b": "1"}  # type: ignore[dict-item]


def test_long_reference_chain_does_not_hit_recursion_limit() -> None:
    props = {f"k{i}": f"${{k{i + 1}}}" for i in range(5000)}
    props["k5000"] = "end"
    resolved = resolve_props(props)
    assert resolved["k0"] == "end"
    assert resolved["k4999"] == "end"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"a": "${b}", "b": "${a}"}, "Circular variable substitution found: [a->b] -> [a]"),
        ({"a": "${a}"}, "Circular variable substitution found: [a] -> [a]"),
        ({"a": "x${b}", "b": "${c}", "c": "${b}"}, "Circular variable substitution found: [a->b->c] -> [b]"),
        (
            {"ok": "1", "a": "${ok}${b}", "b": "${c}", "c": "${a}"},
            "Circular variable substitution found: [a->b->c] -> [a]",
        ),
        ({"a": "${missing}"}, "Could not find variable substitution for variable(s) [a->missing]"),
        ({"a": "${b}", "b": "${c}"}, "Could not find variable substitution for variable(s) [a->b->c]"),
        ({"a": "1", "b": "${a}${x.y}"}, "Could not find variable substitution for variable(s) [b->x.y]"),
    ],
)
def test_cycles_and_undefined_names_raise_azkabans_messages(props: dict[str, str], message: str) -> None:
    with pytest.raises(SubstitutionError) as caught:
        resolve_props(props)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$(1+2)", "3"),
        ("$(7/2)", "3"),
        ("$(-7/2)", "-3"),
        ("$(7.0/2)", "3.5"),
        ("$(5/2.0)", "2.5"),
        ("$(7%3)", "1"),
        ("$(-7%3)", "2"),
        ("$(7.5%2)", "1.5"),
        ("$(2*3+4)", "10"),
        ("$(2*(3+4))", "14"),
        ("$(10-2-3)", "5"),
        ("$(-3)", "-3"),
        ("$(-(-3))", "3"),
        ("$(1.5+1)", "2.5"),
        ("$(2.5*2)", "5.0"),
        ("$(0.1+0.2)", "0.30000000000000004"),
        ("$(10000000.0)", "1.0E7"),
        ("$(1234567.0)", "1234567.0"),
        ("$(0.001)", "0.001"),
        ("$(0.0001)", "1.0E-4"),
        ("$(12345678.9)", "1.23456789E7"),
        ("$(99999999999999999999 + 1)", "100000000000000000000"),
        ("$('a'+'b')", "ab"),
        ('$("x"+1)', "x1"),
        ("$('1'+2)", "3"),
        ("$('1.5'+1)", "2.5"),
        ("$('it\\'s')", "it's"),
        ("$(1<2)", "true"),
        ("$(2<=1)", "false"),
        ("$(2>=2)", "true"),
        ("$(3>2.5)", "true"),
        ("$(1==1.0)", "true"),
        ("$('a'!='b')", "true"),
        ("$('a'=='a')", "true"),
        ("$('abc'<'abd')", "true"),
        ("$(true && !false)", "true"),
        ("$(false || 1 > 2)", "false"),
        ("$(1 < 2 && 2 < 3)", "true"),
        ("$(false && 1/0)", "false"),
        ("$(true || 1/0)", "true"),
        ("$(2 gt 1 and not false)", "true"),
        ("$(7 div 2)", "3"),
        ("$(7 mod 4)", "3"),
        ("$(1 + $(2 * 3))", "7"),
        ("$($(1+1) * $(2+1))", "6"),
        ("a$(1+1)b$(2+2)c", "a2b4c"),
        ("$((1+2)*3)", "9"),
        ("$( 1 +\n 2 )", "3"),
        ("no expression (1+2) here", "no expression (1+2) here"),
        ("stray ) and ( parens $(1)", "stray ) and ( parens 1"),
        ("$(null)", "$(null)"),
        ("$()", "$()"),
        ("$(   )", "$(   )"),
        ("$(date)", "$(date)"),
        ("echo $(pwd)/out", "echo $(pwd)/out"),
        ("$(a.b.c)", "$(a.b.c)"),
        ("$(1 + $(date))", "$(1 + $(date))"),
        ("$(1+1) $(date)", "2 $(date)"),
        ("$(ls -l)", "0"),
    ],
)
def test_expressions(value: str, expected: str) -> None:
    assert resolve_props({"k": value}) == {"k": expected}


def test_expressions_see_substituted_values() -> None:
    props = {"n": "4", "m": "$(${n} * 2)", "label": "part-$(${n} + 1)"}
    assert resolve_props(props) == {"n": "4", "m": "8", "label": "part-5"}


def test_expression_reason_and_key_are_in_the_message() -> None:
    with pytest.raises(SubstitutionError) as caught:
        resolve_props({"ok": "1", "k": "x $(1 +) y"})
    assert str(caught.value) == (
        "Expression $(1 +) not well formed. Expected a value but found end of expression. (property 'k')"
    )


def test_unclosed_expression_message() -> None:
    with pytest.raises(SubstitutionError) as caught:
        resolve_props({"k": "x $(1 + (2) y"})
    assert str(caught.value) == ("Expression $(1 + (2) y not well formed. The '$(' is never closed. (property 'k')")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("$(1/0)", "$(1/0)"),
        ("$(1.5/0)", "$(1.5/0)"),
        ("$(1%0)", "$(1%0)"),
        ("$(1 2)", "$(1 2)"),
        ("$('abc)", "$('abc)"),
        ("$(a = 1)", "$(a = 1)"),
        ("$(true + 1)", "$(true + 1)"),
        ("$('abc' == 1)", "$('abc' == 1)"),
        ("$(-'x')", "$(-'x')"),
        ("$((1+2)", "$((1+2)"),
        ("$(1 ? 2 : 3)", "$(1 ? 2 : 3)"),
        ("$(size(x))", "$(size(x))"),
        ("$(echo hi)", "$(echo hi)"),
        ("$(date +%s)", "$(date +%s)"),
        ("pre $(1 + $(2 *)) post", "$(2 *)"),
        ("$(" + "(" * 60 + "1" + ")" * 60 + ")", "$(" + "(" * 60 + "1" + ")" * 60 + ")"),
    ],
)
def test_malformed_expressions(value: str, shown: str) -> None:
    with pytest.raises(SubstitutionError) as caught:
        resolve_props({"key": value})
    message = str(caught.value)
    assert message.startswith(f"Expression {shown} not well formed. ")
    assert message.endswith(" (property 'key')")


def test_long_expression_text_is_shortened_in_the_message() -> None:
    with pytest.raises(SubstitutionError) as caught:
        resolve_props({"k": "$(" + "1 + " * 1000})
    shown = "$(" + "1 + " * 49 + "1 ..."
    assert str(caught.value) == (f"Expression {shown} not well formed. The '$(' is never closed. (property 'k')")


@pytest.mark.parametrize(
    ("text", "props", "expected"),
    [
        ("echo ${a}", {"a": "A"}, "echo A"),
        ("${a}${a}", {"a": "A"}, "AA"),
        ("${a-b} ${job:x} $a", {"a": "A"}, "${a-b} ${job:x} $a"),
        ("sleep $(1+${n})", {"n": "2"}, "sleep 3"),
        ("echo $(date)", {}, "echo $(date)"),
        ("${a}", {"a": "${b}", "b": "B"}, "${b}"),
        ("", {}, ""),
    ],
)
def test_substitute_one_string(text: str, props: dict[str, str], expected: str) -> None:
    assert substitute(text, props) == expected


def test_substitute_undefined_name() -> None:
    with pytest.raises(SubstitutionError) as caught:
        substitute("run ${missing}", {"a": "A"})
    assert str(caught.value) == "Could not find variable substitution for variable(s) [missing]"


def test_substitute_malformed_expression_has_no_property() -> None:
    with pytest.raises(SubstitutionError) as caught:
        substitute("echo $(1/0)", {})
    assert str(caught.value) == "Expression $(1/0) not well formed. Division by zero ('/')."


@pytest.mark.parametrize(
    "value",
    [
        "${" * 700_000,
        "${a" * 500_000,
        "$(" * 300_000,
        "(" * 1_000_000 + "$(1)",
        "${a}" * 400_000,
        "$(1+1)" * 50_000,
        "x" * 4_000_000 + "${a}",
    ],
    ids=["open-refs", "unterminated-names", "open-exprs", "parens", "many-refs", "many-exprs", "long-text"],
)
def test_long_values_stay_linear(value: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(SubstitutionError):
        resolve_props({"a": "v", "k": value})
    assert time.perf_counter() - started < 10.0

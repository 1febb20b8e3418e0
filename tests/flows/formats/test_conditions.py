"""Conditional workflows: macros, load-time validation and run-time evaluation of ``condition``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sudoless.errors import ConditionError
from sudoless.flows.formats.conditions import Condition, Macro, parse_condition
from sudoless.flows.formats.properties import read_properties
from sudoless.store.status import Status
from support.files import AZKABAN_PROJECTS

S, F, K, C = Status.SUCCEEDED, Status.FAILED, Status.KILLED, Status.CANCELLED
FS, SK, R, ES = Status.FAILED_SUCCEEDED, Status.SKIPPED, Status.RUNNING, Status.EXECUTION_STOPPED

PREFIX = "Invalid condition for jobB: "
UNRESOLVABLE = "cannot resolve the condition. Please check the syntax for supported conditions."
TWO_MACROS = "cannot combine more than one conditionOnJobStatus macros."
NODES = ("jobA", "jobB", "jobC", "jobD")


@pytest.mark.parametrize(
    ("macro", "statuses", "expected"),
    [
        (Macro.ALL_SUCCESS, [S, FS, SK], True),
        (Macro.ALL_SUCCESS, [S, F], False),
        (Macro.ALL_SUCCESS, [S, C], False),
        (Macro.ALL_SUCCESS, [S, R], False),
        (Macro.ALL_SUCCESS, [], True),
        (Macro.ALL_DONE, [S, F, K, C, SK, FS, ES], True),
        (Macro.ALL_DONE, [S, R], False),
        (Macro.ALL_DONE, [Status.READY], False),
        (Macro.ALL_DONE, [], True),
        (Macro.ALL_FAILED, [F, K, C], True),
        (Macro.ALL_FAILED, [F, S], False),
        (Macro.ALL_FAILED, [F, SK], False),
        (Macro.ALL_FAILED, [], False),
        (Macro.ONE_SUCCESS, [F, S], True),
        (Macro.ONE_SUCCESS, [C, SK], True),
        (Macro.ONE_SUCCESS, [C, FS], True),
        (Macro.ONE_SUCCESS, [F, K, C], False),
        (Macro.ONE_SUCCESS, [], True),
        (Macro.ONE_FAILED, [S, C], True),
        (Macro.ONE_FAILED, [S, K], True),
        (Macro.ONE_FAILED, [S, SK, FS], False),
        (Macro.ONE_FAILED, [], False),
    ],
)
def test_macro_satisfied(macro: Macro, statuses: list[Status], expected: bool) -> None:
    assert macro.satisfied(statuses) is expected
    assert macro.satisfied(iter(statuses)) is expected


def test_macro_values() -> None:
    assert [m.value for m in Macro] == ["all_success", "all_done", "all_failed", "one_success", "one_failed"]
    assert Macro("one_failed") is Macro.ONE_FAILED
    assert isinstance(Macro.ALL_DONE, str)


@pytest.mark.parametrize(
    ("text", "macro", "variables"),
    [
        ("${jobA:key1} == 'value1'", Macro.ALL_SUCCESS, (("jobA", "key1"),)),
        ("${jobA:azkaban.server.name} == 'foo'", Macro.ALL_SUCCESS, (("jobA", "azkaban.server.name"),)),
        ("one_success && ${jobA:props} == 'foo'", Macro.ONE_SUCCESS, (("jobA", "props"),)),
        ("one_failed", Macro.ONE_FAILED, ()),
        ("all_failed", Macro.ALL_FAILED, ()),
        ("all_done", Macro.ALL_DONE, ()),
        ("ALL_DONE", Macro.ALL_DONE, ()),
        ("One_Success", Macro.ONE_SUCCESS, ()),
        ("  all_success  ", Macro.ALL_SUCCESS, ()),
        ("${jobA:n} > 5", Macro.ALL_SUCCESS, (("jobA", "n"),)),
        ("${jobA:n} >= -5.5 && ${jobA:n} <= 10", Macro.ALL_SUCCESS, (("jobA", "n"),)),
        ('all_done && ${jobC:p} != "foo"', Macro.ALL_DONE, (("jobC", "p"),)),
        (
            '(!${jobA:a} || !${jobC:b}) && all_success || ${jobA:a} == "bar"',
            Macro.ALL_SUCCESS,
            (("jobA", "a"), ("jobC", "b")),
        ),
        ("${jobA:x} < 1 || ${jobC:y} > 2 || ${jobA:x} == 0", Macro.ALL_SUCCESS, (("jobA", "x"), ("jobC", "y"))),
        ("((${jobA:x} == 'a b:c'))", Macro.ALL_SUCCESS, (("jobA", "x"),)),
        ("!one_success", Macro.ONE_SUCCESS, ()),
        ("${jobA:my param} == 'x'", Macro.ALL_SUCCESS, (("jobA", "my param"),)),
    ],
)
def test_valid_conditions(text: str, macro: Macro, variables: tuple[tuple[str, str], ...]) -> None:
    condition = parse_condition(text, "jobB", NODES, {"jobD"})
    assert condition == Condition(text=text, macro=macro, variables=variables)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("one_success && all_success || all_failed", TWO_MACROS),
        ("all_done && ALL_DONE", TWO_MACROS),
        ("== 'x'", "operand is an empty string."),
        ("${jobA:x} &&", "operand is an empty string."),
        ("${jobA:x} == 'a' || ", "operand is an empty string."),
        ("${jobA:x} == 'a' && && one_success", "operand is an empty string."),
        ("${jobA:param} != 'foo' || !() > 1", "operand is an empty string."),
        ("()", "operand is an empty string."),
        ("", "operand is an empty string."),
        ("   ", "operand is an empty string."),
        ("${jobE:param} == 'foo'", "jobE doesn't exist in the flow."),
        ("one_success && ${jobX:p} == 1", "jobX doesn't exist in the flow."),
        ("${jobD:param} == 'foo'", "should not define condition on its descendant node jobD."),
        ("${jobA}", UNRESOLVABLE),
        ("${jobA} == 'x'", UNRESOLVABLE),
        ("${jobA:} == 'x'", UNRESOLVABLE),
        ("${:p} == 'x'", UNRESOLVABLE),
        ("${jobA:p:q} == 'x'", UNRESOLVABLE),
        ("${jobA:param.{param2}}", UNRESOLVABLE),
        ("${jobA:p == 'x'", UNRESOLVABLE),
        ("$<jobA:param> == 'foo'", UNRESOLVABLE),
        ("{jobA:param} == 'foo'", UNRESOLVABLE),
        ("foo", UNRESOLVABLE),
        ("a && ", UNRESOLVABLE),
        ("true", UNRESOLVABLE),
        ("${jobA:x} = 'a'", UNRESOLVABLE),
        ("${jobA:x} === 'a'", UNRESOLVABLE),
        ("${jobA:x} == 'a", UNRESOLVABLE),
        ("${jobA:x} == 'a' 'b'", UNRESOLVABLE),
        ("(${jobA:x} == 'a'", UNRESOLVABLE),
        ("${jobA:x} == 'a')", UNRESOLVABLE),
        ("one_success1", UNRESOLVABLE),
        ('print("hello!")', UNRESOLVABLE),
        ("${jobA:x} + 1 > 2", UNRESOLVABLE),
        ("(" * 60 + "one_success" + ")" * 60, UNRESOLVABLE),
    ],
)
def test_invalid_conditions(text: str, reason: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(text, "jobB", NODES, {"jobD"})
    assert str(caught.value) == PREFIX + reason


def test_first_problem_in_reading_order_is_reported() -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition("${jobZ:p} == 1 && one_success && all_done", "jobB", NODES, ())
    assert str(caught.value) == PREFIX + "jobZ doesn't exist in the flow."


FLOW6_D = "one_success && ${jobA:props} == 'foo'"


def _outputs(**by_job: dict[str, str]) -> dict[str, dict[str, str]]:
    return dict(by_job)


@pytest.mark.parametrize(
    ("text", "parents", "outputs", "expected"),
    [
        # conditional_flow2: jobA outputs key1=value1, key2=value2, key3=value4
        (
            "${jobA:key1} == 'value1'",
            {"jobA": S},
            _outputs(jobA={"key1": "value1", "key2": "value2", "key3": "value4"}),
            True,
        ),
        (
            "${jobA:key3} == 'value3'",
            {"jobA": S},
            _outputs(jobA={"key1": "value1", "key2": "value2", "key3": "value4"}),
            False,
        ),
        ("${jobA:key2} == 'value2'", {"jobB": S, "jobC": C}, _outputs(jobA={"key2": "value2"}), False),
        # conditional_flow8: key3 is missing, so it reads as 'null'
        ("${jobA:key3} == 'value3'", {"jobA": S}, _outputs(jobA={"key1": "value1", "key2": "value2"}), False),
        ("${jobA:key3} == 'null'", {"jobA": S}, _outputs(jobA={"key1": "value1"}), True),
        ("${jobA:key3} != 'foo'", {"jobA": S}, _outputs(), True),
        ("${jobZ:key} == 'null'", {"jobA": S}, _outputs(jobA={"key": "v"}), True),
        # conditional_flow6
        ("${jobA:props} == 'foo'", {"jobA": S}, _outputs(jobA={"props": "foo"}), True),
        ("${jobA:props} == 'bar'", {"jobA": S}, _outputs(jobA={"props": "foo"}), False),
        (FLOW6_D, {"jobB": S, "jobC": C}, _outputs(jobA={"props": "foo"}), True),
        (FLOW6_D, {"jobB": C, "jobC": C}, _outputs(jobA={"props": "foo"}), False),
        (FLOW6_D, {"jobB": S}, _outputs(jobA={"props": "bar"}), False),
        # conditional_flow7: jobA outputs nothing
        ("${jobA:unknownprops} == 'foo'", {"jobA": S}, _outputs(), False),
        ("one_success", {"jobA": S, "jobB": C, "jobC": C}, _outputs(), True),
        # conditional_flow3, 4, 5
        ("one_failed", {"jobA": S, "jobB": S}, _outputs(), False),
        ("all_failed", {"jobA": F, "jobB": F}, _outputs(), True),
        ("one_success", {"jobA": S, "jobB": F}, _outputs(), True),
        # the documented sample: JobA writes {"param1": "1"}
        ("${JobA:param1} == 1", {"JobA": S}, _outputs(JobA={"param1": "1"}), True),
        ("${JobA:param1} == 2", {"JobA": S}, _outputs(JobA={"param1": "1"}), False),
        # JavaScript loose comparisons
        ("${jobA:n} > 5", {"jobA": S}, _outputs(jobA={"n": "7"}), True),
        ("${jobA:n} > 5", {"jobA": S}, _outputs(jobA={"n": "3"}), False),
        ("${jobA:n} > 5", {"jobA": S}, _outputs(jobA={"n": "abc"}), False),
        ("${jobA:n} <= 5", {"jobA": S}, _outputs(jobA={"n": "abc"}), False),
        ("${jobA:n} > 9", {"jobA": S}, _outputs(jobA={"n": "10"}), True),
        ("${jobA:n} > '9'", {"jobA": S}, _outputs(jobA={"n": "10"}), False),
        ("${jobA:n} == 7", {"jobA": S}, _outputs(jobA={"n": " 7.0 "}), True),
        ("${jobA:n} == 255", {"jobA": S}, _outputs(jobA={"n": "0xff"}), True),
        ("${jobA:n} == 0", {"jobA": S}, _outputs(jobA={"n": ""}), True),
        ("${jobA:n} >= -1.5", {"jobA": S}, _outputs(jobA={"n": "-1.5"}), True),
        ("${jobA:n} != 7", {"jobA": S}, _outputs(jobA={"n": "7"}), False),
        ("${jobA:a} < ${jobA:b}", {"jobA": S}, _outputs(jobA={"a": "apple", "b": "banana"}), True),
        ('${jobA:a} == "it\'s"', {"jobA": S}, _outputs(jobA={"a": "it's"}), True),
        ("!${jobA:a}", {"jobA": S}, _outputs(jobA={"a": ""}), True),
        ("!${jobA:a}", {"jobA": S}, _outputs(jobA={"a": "false"}), False),
        ("!(${jobA:a} == 'x') && all_done", {"jobA": F}, _outputs(jobA={"a": "y"}), True),
        (
            "(${jobA:a} == 'x' || ${jobA:b} == 'y') && ${jobA:c} > 1",
            {"jobA": S},
            _outputs(jobA={"a": "no", "b": "y", "c": "2"}),
            True,
        ),
        ("all_success", {}, _outputs(), True),
        ("all_failed", {}, _outputs(), False),
        # the macro gates everything
        ("${jobA:k} == 'v'", {"jobA": F}, _outputs(jobA={"k": "v"}), False),
        ("all_done && ${jobA:k} == 'v'", {"jobA": F}, _outputs(jobA={"k": "v"}), True),
        # results that are not booleans are false
        ("${jobA:k}", {"jobA": S}, _outputs(jobA={"k": "v"}), False),
        ("${jobA:k} && ${jobA:j}", {"jobA": S}, _outputs(jobA={"k": "v", "j": "w"}), False),
        ("${jobA:k} == 'x' || ${jobA:j}", {"jobA": S}, _outputs(jobA={"k": "v", "j": "w"}), False),
        ("${jobA:k} && one_success", {"jobA": S}, _outputs(jobA={"k": "v"}), True),
    ],
)
def test_evaluate(text: str, parents: dict[str, Status], outputs: dict[str, dict[str, str]], expected: bool) -> None:
    condition = parse_condition(text, "jobD", ("jobA", "jobB", "jobC", "jobD", "JobA", "jobZ"), ())
    assert condition.evaluate(parents, outputs) is expected


@pytest.mark.parametrize("text", ["${jobA:x} ==", "foo bar", "(((", "", "${jobA:x} == 'a' 'b'"])
def test_evaluate_never_raises_on_bad_text(text: str) -> None:
    condition = Condition(text=text, macro=Macro.ALL_SUCCESS, variables=())
    assert condition.evaluate({"jobA": S}, {"jobA": {"x": "a"}}) is False


def test_evaluate_is_repeatable() -> None:
    condition = parse_condition("${jobA:n} > 5", "jobB", NODES, ())
    assert condition.evaluate({"jobA": S}, {"jobA": {"n": "6"}}) is True
    assert condition.evaluate({"jobA": S}, {"jobA": {"n": "4"}}) is False
    assert condition.evaluate({"jobA": S}, {"jobA": {"n": "6"}}) is True


def _graph(nodes: list[dict[str, object]]) -> tuple[set[str], dict[str, set[str]]]:
    """Node names and, for each node, its transitive descendants, from a Flow 2.0 ``nodes`` list."""
    names = {str(n["name"]) for n in nodes}
    children: dict[str, set[str]] = {name: set() for name in names}
    for n in nodes:
        parents = n.get("dependsOn") or []
        assert isinstance(parents, list)
        for parent in parents:
            if parent:
                children[str(parent)].add(str(n["name"]))
    below: dict[str, set[str]] = {}
    for name in names:
        seen: set[str] = set()
        stack = list(children[name])
        while stack:
            child = stack.pop()
            if child not in seen:
                seen.add(child)
                stack.extend(children[child])
        below[name] = seen
    return names, below


INVALID = AZKABAN_PROJECTS / "f2-invalid" / "invalidconditionalflowyamltest"


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (
            "condition_on_descendant.flow",
            "Invalid condition for jobA: should not define condition on its descendant node jobD.",
        ),
        ("empty_operand.flow", "Invalid condition for jobB: operand is an empty string."),
        ("invalid_variable_substitution.flow", "Invalid condition for jobB: " + UNRESOLVABLE),
        ("job_not_exist.flow", "Invalid condition for jobB: jobC doesn't exist in the flow."),
        (
            "multiple_condition_on_job_status_macros.flow",
            "Invalid condition for jobB: cannot combine more than one conditionOnJobStatus macros.",
        ),
    ],
)
def test_azkaban_invalid_examples_are_rejected(file: str, message: str) -> None:
    nodes = yaml.safe_load((INVALID / file).read_text())["nodes"]
    names, below = _graph(nodes)
    conditioned = [n for n in nodes if n.get("condition") is not None]
    assert len(conditioned) == 1
    node = conditioned[0]
    with pytest.raises(ConditionError) as caught:
        parse_condition(str(node["condition"]), node["name"], names, below[node["name"]])
    assert str(caught.value) == message


def test_invalid_example_files_are_all_covered() -> None:
    assert sorted(p.name for p in INVALID.glob("*.flow")) == [
        "condition_on_descendant.flow",
        "empty_operand.flow",
        "invalid_variable_substitution.flow",
        "job_not_exist.flow",
        "multiple_condition_on_job_status_macros.flow",
    ]


@pytest.mark.parametrize(
    "flow_file",
    sorted(
        [
            *(AZKABAN_PROJECTS / "f2-conditional").glob("*.flow"),
            *(AZKABAN_PROJECTS / "az-examples-conditional").glob("*.flow"),
        ]
    ),
    ids=lambda p: p.name,
)
def test_azkaban_flow2_conditions_are_accepted(flow_file: Path) -> None:
    nodes = yaml.safe_load(flow_file.read_text())["nodes"]
    names, below = _graph(nodes)
    conditions = {n["name"]: n["condition"] for n in nodes if n.get("condition") is not None}
    assert conditions
    for name, text in conditions.items():
        condition = parse_condition(text, name, names, below[name])
        assert all(job in names and job not in below[name] for job, _param in condition.variables)


@pytest.mark.parametrize(
    "project", sorted((AZKABAN_PROJECTS / "f1-conditional").glob("conditional_flow*")), ids=lambda p: p.name
)
def test_azkaban_flow1_conditions_are_accepted(project: Path) -> None:
    jobs = {path.stem: read_properties(path) for path in project.glob("*.job")}
    nodes: list[dict[str, object]] = [
        {"name": name, "dependsOn": [d.strip() for d in props.get("dependencies", "").split(",")]}
        for name, props in jobs.items()
    ]
    names, below = _graph(nodes)
    conditions = {name: props["condition"] for name, props in jobs.items() if "condition" in props}
    assert conditions
    for name, text in conditions.items():
        parse_condition(text, name, names, below[name])

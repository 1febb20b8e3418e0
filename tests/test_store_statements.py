"""The SQL text a local flow run shares with the SQLAlchemy store (:mod:`sudoless.store.statements`) against
the table definitions it was written from: its column lists must be the tables', in order, so a row read by
text has the fields a Core select of the table gives; and the unfinished statuses must be the Status enum's."""

from __future__ import annotations

import pytest

from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.status import TERMINAL_FLOW, Status


@pytest.mark.parametrize(
    ("columns", "table"),
    [(q.EXECUTION_COLUMNS, t.executions), (q.JOB_RUN_COLUMNS, t.job_runs), (q.PROJECT_COLUMNS, t.projects)],
    ids=["executions", "job_runs", "projects"],
)
def test_column_lists_are_the_tables(columns: tuple[str, ...], table: object) -> None:
    assert columns == tuple(table.c.keys())  # type: ignore[attr-defined]


def test_the_unfinished_statuses_are_those_not_terminal() -> None:
    listed = q.UNFINISHED_SQL.removeprefix("status IN (").removesuffix(")").replace("'", "").split(", ")
    assert set(listed) == {s.value for s in Status if s not in TERMINAL_FLOW}


def test_inserted_and_updated_columns_exist() -> None:
    assert set(q.INSERT_JOB_RUN.partition("(")[2].partition(")")[0].replace('"', "").split(", ")) <= set(
        t.job_runs.c.keys()
    )
    assert q.update_statement("executions", ("status", "end_time"), ("id",)) == (
        "UPDATE executions SET status = :status, end_time = :end_time WHERE id = :k_id"
    )


def test_identifiers_are_quoted_the_standard_way_and_turned_into_backticks_for_mysql() -> None:
    from sudoless.store.statements import _text

    assert '"condition"' in q.INSERT_JOB_RUN
    assert "`condition`" in str(_text(q.INSERT_JOB_RUN, "mysql")) and '"' not in str(_text(q.INSERT_JOB_RUN, "mariadb"))
    assert str(_text(q.INSERT_JOB_RUN, "postgresql")) == q.INSERT_JOB_RUN

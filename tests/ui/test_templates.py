"""The UI's templates are compiled once per process and then served from Jinja's cache without asking the
file system whether they changed: they ship inside the package, and the check cost a stat of every template
a page uses on every render."""

from __future__ import annotations

from sudoless.server.ui.web import new_environment


def test_a_loaded_template_is_not_checked_for_changes_again() -> None:
    env = new_environment()
    template = env.get_template("error.html")
    checked: list[str] = []

    def up_to_date() -> bool:
        checked.append(template.name or "")
        return False  # were it asked, Jinja would load the template anew

    template._uptodate = up_to_date  # the check Jinja's cache calls with auto_reload on
    assert env.get_template("error.html") is template
    assert env.get_template("base.html") is env.get_template("base.html")  # what error.html extends
    assert checked == []

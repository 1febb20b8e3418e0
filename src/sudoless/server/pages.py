"""The few HTML pages the AJAX API relies on, kept plain until the web UI replaces them.

Clients scrape some of them: the login page must carry ``<!-- /.login -->`` and Azkaban 3's exact
``login.js`` script line (both are how clients notice an expired session); ``/index?all`` must render
each project as ``div.project-info`` with the name in the first link and ``Last modified on ... by\\n
<strong>user</strong>.`` in ``p.project-last-modified`` (``azkaban-cli fetch_projects``); the page a
delete redirects to must show the success message (``azkaban`` checks for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

from starlette.responses import HTMLResponse

__all__ = ["layout", "login_page", "message_page", "project_list_page", "table_page"]

LOGIN_SCRIPT = '  <script type="text/javascript" src="/js/azkaban/view/login.js"></script>'

LOGIN_JS = """// Logs in through the AJAX API and reloads the page (the form works without it too).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("login-form");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    fetch("/", {method: "POST", body: body, credentials: "same-origin",
                headers: {"X-Requested-With": "XMLHttpRequest"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data["session.id"]) { window.location.reload(); }
        else { document.getElementById("login-error").textContent = data.error || "Login failed"; }
      });
  });
});
"""


def when(ms: int) -> str:
    if ms is None or ms < 0:
        return "-"
    return f"{datetime.fromtimestamp(ms / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC"


def layout(title: str, body: str, messages: Sequence[tuple[str, str]] = (), head: str = "") -> HTMLResponse:
    notes = "".join(f'<div class="alert alert-{kind}">{escape(text, quote=False)}</div>\n' for kind, text in messages)
    page = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} - sudoless</title>\n{head}</head>\n<body>\n"
        f'<nav><a href="/index">Projects</a> | <a href="/schedule">Scheduling</a> | '
        f'<a href="/executor">Executing</a> | <a href="/index?logout">Logout</a></nav>\n'
        f"{notes}{body}\n</body>\n</html>\n"
    )
    return HTMLResponse(page)


def login_page() -> HTMLResponse:
    body = (
        '<div class="container">\n<div class="login">\n<h1>sudoless</h1>\n'
        '<form id="login-form" method="post" action="/">\n'
        '<input type="hidden" name="action" value="login">\n'
        '<label>Username <input id="username" name="username" type="text" '
        'autocomplete="username"></label>\n'
        '<label>Password <input id="password" name="password" type="password" '
        'autocomplete="current-password"></label>\n'
        '<button type="submit">Login</button>\n<p id="login-error"></p>\n</form>\n'
        "</div><!-- /.login -->\n</div>"
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Login - sudoless</title>\n{LOGIN_SCRIPT}\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    return HTMLResponse(page)


def message_page(title: str, message: str, messages: Sequence[tuple[str, str]] = ()) -> HTMLResponse:
    return layout(title, f'<h1>{escape(title)}</h1>\n<p class="error">{escape(message)}</p>', messages)


def project_list_page(
    projects: Iterable[tuple[str, str, int, str]], messages: Sequence[tuple[str, str]] = ()
) -> HTMLResponse:
    """``projects``: (name, description, modified time in ms, modified by)."""
    items = []
    for name, description, modified, user in projects:
        items.append(
            f'<div class="project-info">\n'
            f'<h4><a href="/manager?project={escape(name)}">{escape(name)}</a></h4>\n'
            f'<p class="project-description">{escape(description)}</p>\n'
            '<p class="project-last-modified">Last modified on '
            f"<strong>{escape(when(modified))}</strong> by\n"
            f"<strong>{escape(user)}</strong>.</p>\n</div>"
        )
    body = "<h1>Projects</h1>\n" + ("\n".join(items) or "<p>No projects.</p>")
    return layout("Projects", body, messages)


def table_page(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    intro: str = "",
    messages: Sequence[tuple[str, str]] = (),
) -> HTMLResponse:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    lines = ["<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows]
    body = (
        f"<h1>{escape(title)}</h1>\n{intro}<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(lines)
        + "\n</tbody>\n</table>"
    )
    return layout(title, body, messages)

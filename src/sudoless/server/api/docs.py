"""``/api/v1/docs``: the OpenAPI document as one self-contained HTML page.

FastAPI's Swagger UI and ReDoc load their scripts from a CDN, which machines without internet access (and
careful sites) cannot reach, so they are off; this page is rendered on the server from the same document,
with no script and no external asset: each operation with its parameters, body and answers, and the
schemas at the end, linked by name.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render"]

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em;margin:1.4em 0 .3em}
code,.path{font-family:ui-monospace,monospace}.m{display:inline-block;width:4.5em;font-weight:bold}
.get{color:#0a6}.post{color:#06c}.put{color:#a60}.delete{color:#c33}.patch{color:#808}
table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;
vertical-align:top}th{background:#f4f4f4}p.d{margin:.2em 0 .4em;white-space:pre-wrap}
"""


def render(spec: dict[str, Any], openapi_url: str) -> str:
    """The HTML page for ``spec``; ``openapi_url`` links the machine-readable document."""
    info = spec.get("info", {})
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(info.get('title', 'API'))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))} {escape(str(info.get('version', '')))}</h1>",
        f"<p>The OpenAPI document: <a href='{escape(openapi_url)}'>{escape(openapi_url)}</a>. Paths below are "
        f"relative to <code>{escape(_base(spec))}</code>. Authenticate with <code>Authorization: Bearer "
        "&lt;token&gt;</code>, the token from <code>POST /login</code>.</p>",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in spec.get("paths", {}).items():
        for method, operation in methods.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((path, method, operation))
    for tag, operations in by_tag.items():
        out.append(f"<h2>{escape(tag)}</h2>")
        for path, method, operation in operations:
            out.extend(_operation(path, method, operation))
    out.append("<h2>schemas</h2>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        out.append(f"<h3 id='schema-{escape(name)}'>{escape(name)}</h3>")
        if schema.get("description"):
            out.append(f"<p class='d'>{escape(schema['description'])}</p>")
        if "enum" in schema:
            out.append(f"<p>one of: {', '.join(f'<code>{escape(str(v))}</code>' for v in schema['enum'])}</p>")
        properties = schema.get("properties", {})
        if properties:
            required = set(schema.get("required", ()))
            out.append("<table><tr><th>field</th><th>type</th><th>notes</th></tr>")
            for field, sub in properties.items():
                mark = " (required)" if field in required else ""
                notes = escape(sub.get("description", "")) + _limits(sub)
                out.append(f"<tr><td><code>{escape(field)}</code>{mark}</td><td>{_type(sub)}</td><td>{notes}</td></tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def _base(spec: dict[str, Any]) -> str:
    servers = spec.get("servers") or [{"url": "/"}]
    return str(servers[0].get("url", "/"))


def _operation(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    out = [
        f"<h3><span class='m {escape(method)}'>{escape(method.upper())}</span><span class='path'>"
        f"{escape(path)}</span> — {escape(operation.get('summary', ''))}</h3>"
    ]
    if operation.get("description"):
        out.append(f"<p class='d'>{escape(operation['description'])}</p>")
    parameters = operation.get("parameters", [])
    if parameters:
        out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>notes</th></tr>")
        for parameter in parameters:
            schema = parameter.get("schema", {})
            mark = " (required)" if parameter.get("required") else ""
            notes = escape(parameter.get("description", "") or schema.get("description", "")) + _limits(schema)
            out.append(
                f"<tr><td><code>{escape(parameter['name'])}</code>{mark}</td><td>{escape(parameter['in'])}"
                f"</td><td>{_type(schema)}</td><td>{notes}</td></tr>"
            )
        out.append("</table>")
    body = operation.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        out.append(f"<p>body ({escape(media)}): {_type(content.get('schema', {}))}</p>")
    answers = []
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        kinds = ", ".join(f"{escape(media)} {_type(c.get('schema', {}))}" for media, c in content.items())
        answers.append(
            f"<code>{escape(status)}</code> {escape(response.get('description', ''))}"
            + (f" — {kinds}" if kinds else "")
        )
    out.append("<p>answers: " + "; ".join(answers) + "</p>")
    return out


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"<a href='#schema-{escape(name)}'>{escape(name)}</a>"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " | ".join(_type(sub) for sub in schema[key])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type(schema['additionalProperties'])}"
    if "enum" in schema:
        return escape(kind) + " (" + ", ".join(escape(str(v)) for v in schema["enum"]) + ")"
    return escape(str(kind)) + (f" ({escape(schema['format'])})" if "format" in schema else "")


def _limits(schema: dict[str, Any]) -> str:
    labels = {
        "minimum": "≥",
        "maximum": "≤",
        "minLength": "min length",
        "maxLength": "max length",
        "pattern": "pattern",
        "default": "default",
    }
    found = [f"{label} <code>{escape(str(schema[key]))}</code>" for key, label in labels.items() if key in schema]
    return (" " + ", ".join(found)) if found else ""

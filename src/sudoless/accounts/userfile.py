"""Reading Azkaban's ``azkaban-users.xml`` (XmlUserManager's file) for ``sudoless user import``.

The file is parsed with expat, the parser under :mod:`xml.etree.ElementTree`, used directly because
ElementTree does not report the line of an element and every error here names file and line. A document
type declaration is refused before anything in it is processed: it is the only way to declare entities,
and refusing it closes entity-expansion ("billion laughs") and external-entity attacks without needing
defusedxml. The file holds plain-text passwords; they are only returned to the caller, which hashes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from sudoless.accounts.permissions import Permission
from sudoless.errors import InputError


@dataclass(frozen=True)
class FileUser:
    """A ``<user>`` element: Azkaban's attributes, password still in plain text."""

    name: str
    password: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    proxy_users: tuple[str, ...]
    email: str
    line: int


@dataclass
class UserFile:
    """The content of one azkaban-users.xml, in document order."""

    path: Path
    users: list[FileUser] = field(default_factory=list)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    roles: dict[str, Permission] = field(default_factory=dict)
    #: line of each role, group and user definition, for error messages raised after parsing
    lines: dict[tuple[str, str], int] = field(default_factory=dict)


class _Refused(Exception):
    """Raised inside expat callbacks; turned into InputError with the position."""


_ALLOWED = {
    "user": {"username", "password", "roles", "groups", "proxy", "email"},
    "group": {"name", "roles"},
    "role": {"name", "permissions"},
}


def _items(text: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def read_user_file(path: Path) -> UserFile:
    """Parse ``path``; raise :class:`InputError` naming the file and line of the first problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}); check the path") from None
    result = UserFile(path=path)
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0

    def refuse_doctype(*_args: object) -> None:
        raise _Refused("a DOCTYPE declaration is not allowed (entities could expand); remove it")

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth == 1:
            if tag != "azkaban-users":
                raise _Refused(f"the root element is <{tag}>, expected <azkaban-users>")
            return
        if depth > 2 or tag not in _ALLOWED:
            raise _Refused(f"unexpected element <{tag}>; azkaban-users.xml holds <user>, <group> and <role>")
        unknown = sorted(set(attrs) - _ALLOWED[tag])
        if unknown:
            raise _Refused(f"<{tag}> has unknown attribute '{unknown[0]}'")
        _element(result, tag, attrs, parser.CurrentLineNumber)

    def end(_tag: str) -> None:
        nonlocal depth
        depth -= 1

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise InputError(f"{path} line {parser.CurrentLineNumber}: {exc}") from None
    except expat.ExpatError as exc:
        raise InputError(f"{path} line {exc.lineno}: not well-formed XML ({expat.ErrorString(exc.code)})") from None
    return result


def _element(result: UserFile, tag: str, attrs: dict[str, str], line: int) -> None:
    key = "username" if tag == "user" else "name"
    name = attrs.get(key, "").strip()
    if not name:
        raise _Refused(f"<{tag}> needs a non-empty {key} attribute")
    if (tag, name) in result.lines:
        raise _Refused(f"{tag} '{name}' is defined twice (first on line {result.lines[tag, name]})")
    result.lines[tag, name] = line
    if tag == "role":
        try:
            result.roles[name] = Permission.parse(_items(attrs.get("permissions")))
        except InputError as exc:
            raise _Refused(f"role '{name}': {exc}") from None
    elif tag == "group":
        result.groups[name] = _items(attrs.get("roles"))
    else:
        password = attrs.get("password", "")
        if not password:
            raise _Refused(f"user '{name}' needs a non-empty password attribute")
        result.users.append(
            FileUser(
                name=name,
                password=password,
                roles=_items(attrs.get("roles")),
                groups=_items(attrs.get("groups")),
                proxy_users=_items(attrs.get("proxy")),
                email=attrs.get("email", "").strip(),
                line=line,
            )
        )

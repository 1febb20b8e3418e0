"""The SQL behind API tokens (:mod:`sudoless.accounts.tokens`): only a digest of each token is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sudoless.store import tables as t
from sudoless.store.accounts import Definitions, UserRecord, definitions_of, user_record

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["TokenRecord", "TokenQueries"]

_BY_KEY = sa.select(t.api_tokens).where(t.api_tokens.c.token_key == sa.bindparam("key"))
_USER = sa.select(t.users).where(t.users.c.username == sa.bindparam("name"))
#: ``last_used`` is rewritten at most this often per token, so a busy script costs reads, not writes.
USE_RESOLUTION_MS = 60_000


@dataclass(frozen=True)
class TokenRecord:
    """One row of ``api_tokens``; ``scopes`` as stored ("project_id:bits" pairs, "*" for every project)."""

    id: int
    username: str
    name: str
    scopes: str
    created_time: int
    expires: int
    last_used: int | None


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        username=row.username,
        name=row.name,
        scopes=row.scopes,
        created_time=row.created_time,
        expires=row.expires,
        last_used=row.last_used,
    )


class TokenQueries:
    """Queries on ``api_tokens`` of one :class:`Store`; every method is one short transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(self, key: str, username: str, name: str, scopes: str, now: int, expires: int) -> bool:
        """Add a token; False when the user has a token of that name already."""
        tok = t.api_tokens
        try:
            with self.store.write() as conn:
                if (
                    conn.execute(sa.select(tok.c.id).where(tok.c.username == username, tok.c.name == name)).first()
                    is not None
                ):
                    return False
                conn.execute(
                    tok.insert().values(
                        token_key=key,
                        username=username,
                        name=name,
                        scopes=scopes,
                        created_time=now,
                        expires=expires,
                        last_used=None,
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def of_user(self, username: str) -> list[TokenRecord]:
        tok = t.api_tokens
        with self.store.read() as conn:
            rows = conn.execute(sa.select(tok).where(tok.c.username == username).order_by(tok.c.name)).all()
        return [_token(row) for row in rows]

    def delete(self, username: str, name: str) -> bool:
        tok = t.api_tokens
        with self.store.write() as conn:
            return conn.execute(tok.delete().where(tok.c.username == username, tok.c.name == name)).rowcount == 1

    def account(self, key: str, now: int) -> tuple[TokenRecord, UserRecord, Definitions] | None:
        """The live token with digest ``key``, its user and the role and group definitions; None when the
        token is unknown, expired, or its user was removed or disabled. Notes the use (coarsely)."""
        with self.store.read() as conn:
            row = conn.execute(_BY_KEY, {"key": key}).first()
            if row is None or row.expires <= now:
                return None
            user = conn.execute(_USER, {"name": row.username}).first()
            if user is None or user.disabled:
                return None
            found = _token(row), user_record(user), definitions_of(conn)
        if row.last_used is None or now - row.last_used > USE_RESOLUTION_MS:
            with self.store.write() as conn:
                conn.execute(t.api_tokens.update().where(t.api_tokens.c.id == row.id).values(last_used=now))
        return found

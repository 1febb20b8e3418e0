"""The queries a local ``sudoless flow run`` makes, on the SQL text of :mod:`sudoless.store.statements`, in
modules that import no SQLAlchemy.

Each class here is the part of a query class (``store.executions``, ``store.job_runs``, ...) that a flow run
uses, with the records it returns; the full class in ``sudoless.store.<noun>`` extends it with the rest, built
with SQLAlchemy Core. The same methods therefore serve both stores: the SQLAlchemy :class:`~sudoless.store.Store`
on every back end, and :class:`~sudoless.store.local.LocalStore`, the plain ``sqlite3`` store with which a
flow run on a SQLite home at the current schema never imports SQLAlchemy (about half of such a run's CPU).
"""

__all__: list[str] = []  # the modules are the interface: each is imported by name

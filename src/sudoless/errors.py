"""The one exception hierarchy of sudoless.

Every error a user can cause says what went wrong, where (file, line, field) and, where it helps, what to
do. The command line prints ``str(error)`` on one line and exits with ``error.exit_code``; the HTTP layer
renders the same message as Azkaban-shaped JSON. Exceptions cross process boundaries (job runner
subprocesses, Spark workers), so each one keeps its message in ``args`` and stays picklable.

::

    SudolessError                  exit code 2 unless noted
    ├── ConfigError                bad setting, config file or environment variable
    │   └── MissingExtraError      an optional package (extra) a command or job needs is not installed
    ├── InputError                 a user-supplied file or value is wrong
    │   ├── ProjectError           an Azkaban project does not load (the reason Azkaban would give)
    │   │   └── ArchiveError       an unsafe or oversized zip
    │   ├── ConditionError         a ``condition`` expression is invalid
    │   ├── FleetSizeError         the number of dispatchers cannot serve the locations within the limits
    │   └── SubstitutionError      ``${name}`` cannot be resolved (cycle or undefined)
    ├── NotFoundError              a project, flow, execution or job that does not exist
    ├── AuthError                  wrong user name or password, or no valid session
    │   └── ThrottledError         too many failed logins for a user or an address
    ├── PermissionDenied           the user lacks the permission an action needs
    ├── StateError                 an action that the current state forbids (cancel a finished flow)
    │   ├── FlowLockedError        the flow is locked (``setFlowLock``): it neither runs nor is scheduled
    │   └── DaemonError            a server we start (MySQL, Spark master or worker) did not start or stop
    ├── StoreError                 the database cannot be reached or migrated
    ├── JobError                   a job could not be started (bad command, missing job type); exit 1
    └── CheckFailed                a command ran and what it checked is not fine (a flow failed, a server is
                                   not running, a cipher not solved with confidence); exit 1
"""

from __future__ import annotations


class SudolessError(Exception):
    """Root of every error sudoless raises on purpose."""

    exit_code: int = 2

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(SudolessError):
    """A setting, config file or environment variable has a value sudoless cannot use."""


class MissingExtraError(ConfigError):
    """A command, job or function needs an optional package that is not installed; the message ends with the
    pip line. :mod:`sudoless.extras` makes every one, so that they all read alike."""


class InputError(SudolessError):
    """A file or value the user gave is invalid; the message names it."""


class ProjectError(InputError):
    """An Azkaban project does not load; the message is the reason Azkaban gives, prefixed by the file.

    ``str()`` is one line (every finding joined, for a log or an HTTP answer); ``problems`` keeps each finding
    on its own, so that ``sudoless flow validate`` can list them one per line.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message, tuple(problems))

    @property
    def problems(self) -> tuple[str, ...]:
        """Each finding as ``file[ line N]: reason``; the message alone when the error was raised with none."""
        found = self.args[1] if len(self.args) > 1 else ()
        return tuple(found) or (str(self),)


class ArchiveError(ProjectError):
    """A project archive is unsafe (path traversal, links) or too large."""


class ConditionError(InputError):
    """A ``condition`` expression is invalid (Azkaban's "Invalid condition for ..." messages)."""


class FleetSizeError(InputError):
    """A routing problem's number of dispatchers cannot serve its locations within the limits (too few for the
    maximum stops or the capacity, too many for the minimum stops). ``routes check`` takes the fleet size from
    the solution's routes unless ``-k`` gives it, so it adds where the number came from to this error only."""


class SubstitutionError(InputError):
    """A ``${name}`` reference is circular or undefined when a job's properties are resolved."""


class NotFoundError(SudolessError):
    """A project, flow, execution, job or log that does not exist."""


class AuthError(SudolessError):
    """Login failed or the session is missing or expired."""


class ThrottledError(AuthError):
    """Too many failed logins recently, for this user or from this address; try again later."""


class PermissionDenied(SudolessError):
    """The user lacks the permission the action needs (Azkaban: "User 'u' doesn't have X permissions")."""


class StateError(SudolessError):
    """The action is not allowed in the object's current state (for example, resuming a finished flow)."""


class DaemonError(StateError):
    """A background server sudoless starts did not start or stop; ``log_tail`` holds the end of its log, which
    the command line shows above the one-line message because the cause is almost always written there."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message, log_tail)

    @property
    def log_tail(self) -> str:
        return str(self.args[1]) if len(self.args) > 1 else ""


class FlowLockedError(StateError):
    """The flow is locked by a project admin; the message is Azkaban's ("Flow F for project P is locked.")."""


class StoreError(SudolessError):
    """The database cannot be reached, created or migrated."""


class JobError(SudolessError):
    """A job could not be started or run; the job itself ends FAILED."""

    exit_code = 1


class CheckFailed(SudolessError):
    """A command ran and its verdict is "not fine": a flow that did not succeed, a server that is not running, a
    plan that breaks a limit, a decryption with low confidence. The command has printed its result (text or
    ``--json``) first; the message, when there is one, is the one line on stderr that says why.

    ``exit_code`` is 1, the "thing checked is not fine" of the CLI contract (as ``systemctl is-active``,
    ``pg_ctl status``); ``flow validate`` uses 2 because what it checks is the user's input, and ``spark
    submit`` passes the driver's own code through.
    """

    def __init__(self, message: str = "", exit_code: int = 1) -> None:
        super().__init__(message, exit_code)
        self.exit_code = exit_code

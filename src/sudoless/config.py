"""Settings: where sudoless keeps its state and which database it talks to.

Precedence, highest first: environment variables (``SUDOLESS_HOME``, ``SUDOLESS_DB``, ...), then the
``[sudoless]`` table of ``$SUDOLESS_HOME/config.toml``, then the defaults below. Nothing reads the
environment after :func:`load_settings` returns, so tests build their own :class:`Settings`.

This module is the one reader and writer of ``os.environ``. Besides the settings, the process environment
holds what this process hands down to its children (a job, the MySQL server, the JVM, Spark's Python
workers) or what a library in it reads (BLAS's thread counts): :func:`process_environment`,
:func:`environment_value` and :func:`export`, with the variables' names below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sudoless.errors import ConfigError

if TYPE_CHECKING:  # every command loads this module: what only some need is imported where it is used
    from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Settings:
    """Everything configurable. ``db_url`` empty means SQLite at ``home/sudoless.db``."""

    home: Path
    db_url: str = ""
    #: a file whose first line is the password of a ``db_url`` written without one, so that no password
    #: has to be on a command line (``ps`` shows those to every local user); must be 0600 or narrower.
    db_password_file: str = ""
    #: the same password written in config.toml itself (the file is kept 0600): the file option wins.
    db_password: str = field(default="", repr=False)
    #: hosts webhooks (SLA alerts) may be sent to, comma-separated: host, host:port, *.domain (public
    #: addresses only); empty allows none, loopback included (:mod:`sudoless.outbound`).
    webhook_hosts: str = ""
    #: client addresses or networks (comma-separated, like ``127.0.0.1, 10.1.0.0/16``) that may read the
    #: server's ``/metrics`` without logging in; anyone else needs an admin session. Empty: nobody.
    metrics_allow: str = ""
    parallel: int = 10
    #: quota of one project version once unpacked, in MiB and in files; checked at upload, before a byte of
    #: it is written (a 150 KB zip can declare 150 MB). Executions link to the one unpacked copy.
    project_max_mb: int = 1024
    project_max_files: int = 20_000
    #: Azkaban's ``execution.dir.retention``: days after its end that a finished execution's directory is
    #: removed (by the server's scheduler and ``sudoless clean``); its database row and logs stay.
    execution_dir_retention_days: float = 30.0
    #: Azkaban's ``execution.logs.retention.ms``, in days: a finished execution's job and flow logs are
    #: removed from the database this long after it ended (its row and job statuses stay); 0 keeps them.
    execution_log_retention_days: float = 30.0
    #: quota of what the jobs of one execution write into its directory, in MiB (the project's own linked
    #: files not counted); the running job is killed and the execution fails beyond it. 0: no quota.
    execution_dir_max_mb: int = 4096
    #: largest project zip the HTTP server accepts, counted as it arrives (chunked uploads included).
    max_upload_bytes: int = 256 << 20
    log_chunk_bytes: int = 64 * 1024
    max_job_xms: str = "1G"
    max_job_xmx: str = "2G"
    #: Azkaban's ``azkaban.executor.runtimeProps.override.eager``: runtime properties beat job files.
    runtime_props_eager: bool = False
    #: Azkaban's ``azkaban.max.concurrent.runs.oneflow``: unfinished runs of one flow allowed at once.
    max_runs_per_flow: int = 30
    #: seconds without a heartbeat before another host may finalise an executor's executions.
    executor_timeout: float = 60.0
    #: worker threads for the server's blocking request work (database, files); 0 chooses by database. On
    #: SQLite a few beat many: 4 instead of Starlette's 40 served 141 instead of 84 requests/s at saturation
    #: on two cores, as fewer threads fight over the GIL and the write lock. A server database needs more:
    #: its threads mostly wait for round trips (MariaDB with 4 threads used half a CPU and fell behind).
    server_threads: int = 0
    #: where ``sudoless mysql init`` looks for mariadbd/mysqld when no server is installed in the home: a
    #: PATH-like list that replaces PATH and the system folders (/usr/sbin ...); empty means those.
    mysql_path: str = ""
    #: size cap of Spark's archive cache (packed venvs and archives unpacked for local masters), in MiB; the
    #: least recently used entries go first, never one in use.
    spark_cache_mb: int = 2048
    #: confine every job process (:mod:`sudoless.flows.sandbox`); ``off`` only to debug a job the sandbox
    #: stops, as then any job can read the database and the secrets in the home
    sandbox: bool = True
    #: refuse to start a server or run a flow where the kernel cannot confine jobs (no Landlock)
    require_sandbox: bool = False
    #: paths inside the home (or anywhere) that jobs may also read, or read and write; os.pathsep-separated
    sandbox_read: str = ""
    sandbox_write: str = ""
    #: jobs may list every folder (``ls /``, ``ls ~``), which also shows them the names (never the contents)
    #: of what SUDOLESS_HOME holds; off hides those names and the folders on the way to the home with them
    sandbox_list_dirs: bool = True
    #: sign-in back-ends, tried in this order: ``local`` (passwords kept here), ``ldap``, ``pam``; e.g.
    #: ``ldap,local`` for a directory with a local break-glass admin (docs/security.md)
    auth_backends: str = "local"
    #: LDAP / Active Directory (extra [ldap]); the Azkaban LDAP user manager's names are accepted too
    #: (``user.manager.ldap.host`` ...: :data:`AZKABAN_LDAP`)
    ldap_host: str = ""
    #: 0: 636 with ``ldap_use_ssl``, else 389
    ldap_port: int = 0
    ldap_use_ssl: bool = False
    #: upgrade a plain connection with StartTLS before any password is sent
    ldap_start_tls: bool = False
    #: the CA certificates (PEM) that the directory's certificate must chain to; empty: the system's
    ldap_ca_file: str = ""
    ldap_timeout: float = 5.0
    #: search-then-bind: where users are and the attribute holding their login name
    ldap_user_base: str = ""
    ldap_user_id_property: str = "uid"
    ldap_email_property: str = "mail"
    #: an extra filter users must match, e.g. AD's enabled accounts:
    #: ``(!(userAccountControl:1.2.840.113556.1.4.803:=2))``
    ldap_user_filter: str = ""
    #: direct bind instead of a search: the DN of a user, ``{user}`` standing for the login name
    ldap_user_dn_template: str = ""
    #: the service account of search-then-bind (empty: anonymous search) and a 0600 file holding its password
    ldap_bind_account: str = ""
    ldap_bind_password_file: str = ""
    #: directory groups (comma-separated names) one of which a user must be in; empty: any user may log in
    ldap_allowed_groups: str = ""
    ldap_group_search_base: str = ""
    ldap_group_name_property: str = "cn"
    #: ``member`` (groupOfNames, AD) or ``uniqueMember`` hold DNs; ``memberUid`` (posixGroup) login names
    ldap_group_member_property: str = "member"
    #: read the groups from the user entry's ``memberOf`` instead of searching them
    ldap_embedded_groups: bool = False
    #: groups in groups: ``auto`` (Active Directory's in-chain matching rule where the server has it, else a
    #: search level by level), ``in_chain``, ``search`` or ``off``
    ldap_nested_groups: str = "auto"
    ldap_nested_depth: int = 8
    #: PAM (extra [pam]): the service whose stack checks passwords, and the Unix groups allowed (empty: any)
    pam_service: str = "login"
    pam_allowed_groups: str = ""
    #: directory (or Unix) groups to sudoless roles: ``group=role+role; other=role``
    group_roles: str = ""
    #: roles of every account a back-end creates, besides the mapped ones
    directory_default_roles: str = "user"
    #: how often the server re-reads directory accounts' groups (removal takes effect within this time)
    directory_refresh_seconds: float = 300.0
    #: Azkaban's ``default.timezone.id``: the zone of new schedules and of ``azkaban.flow.start.*``; empty
    #: means the machine's zone (:mod:`sudoless.zone`)
    timezone: str = ""
    #: the ``[mail]`` table of config.toml: the SMTP server notifications go through (empty host: each queued
    #: e-mail's attempts fail with that reason, shown with the execution); port 0: 25, 587 or 465 by security
    mail_host: str = ""
    mail_port: int = 0
    #: ``starttls`` (upgrade a plain connection; the usual submission port 587), ``tls`` (implicit TLS, 465)
    #: or ``plain`` (no encryption: a relay on the same host or network only)
    mail_security: str = "starttls"
    mail_user: str = ""
    #: a file whose first line is the SMTP password (0600 or narrower), never the password itself
    mail_password_file: str = ""
    mail_from: str = ""
    #: seconds an SMTP or webhook exchange may take before the attempt counts as failed
    mail_timeout: float = 20.0
    #: the server's address as users reach it (``https://azkaban.example.com``), for links in notifications
    #: and Azkaban's ``?{server}`` in job callbacks; empty: ``http://<host name>:8081``
    external_url: str = ""
    #: databases that ``sql`` trigger dependencies may query, by name: ``name=URL`` entries, comma-separated
    #: (trigger files name the database, never a URL or a password)
    trigger_databases: str = ""
    #: seconds between two checks of a waiting trigger instance's dependencies
    trigger_check_seconds: float = 10.0
    #: how long one minute of a trigger's ``maxWaitMins`` lasts, in seconds: 60 except in tests, which
    #: shrink it to watch a wait run out
    trigger_minute_seconds: float = 60.0
    #: the Spark master of the session routing's parts on Spark start when the caller passes none
    spark_master: str = "local[*]"

    @property
    def request_threads(self) -> int:
        if self.server_threads > 0:
            return self.server_threads
        return 4 if self.database_url.startswith("sqlite") else 16

    @property
    def zone(self) -> ZoneInfo:
        """The server's time zone (:func:`sudoless.zone.server_zone`)."""
        from sudoless.zone import server_zone

        return server_zone(self.timezone)

    @property
    def project_max_bytes(self) -> int:
        return self.project_max_mb << 20

    @property
    def sandbox_read_paths(self) -> tuple[Path, ...]:
        return tuple(Path(p).expanduser() for p in self.sandbox_read.split(os.pathsep) if p.strip())

    @property
    def sandbox_write_paths(self) -> tuple[Path, ...]:
        return tuple(Path(p).expanduser() for p in self.sandbox_write.split(os.pathsep) if p.strip())

    @property
    def database_url(self) -> str:
        from sudoless.datadir import default_sqlite_url

        return self.db_url or default_sqlite_url(self.home)

    @property
    def data_dir(self) -> Path:
        """``home/data/<database key>``: the files named by this database's ids (:mod:`sudoless.datadir`)."""
        from sudoless.datadir import database_dir

        return database_dir(self.home, self.database_url)

    @property
    def executions_dir(self) -> Path:
        return self.data_dir / "executions"

    @property
    def admin_password_file(self) -> Path:
        return self.data_dir / "admin-password"


_ENV = {
    "db_url": "SUDOLESS_DB",
    "db_password_file": "SUDOLESS_DB_PASSWORD_FILE",
    "webhook_hosts": "SUDOLESS_WEBHOOK_HOSTS",
    "metrics_allow": "SUDOLESS_METRICS_ALLOW",
    "parallel": "SUDOLESS_PARALLEL",
    "project_max_mb": "SUDOLESS_PROJECT_MAX_MB",
    "project_max_files": "SUDOLESS_PROJECT_MAX_FILES",
    "execution_dir_retention_days": "SUDOLESS_EXECUTION_DIR_RETENTION_DAYS",
    "execution_log_retention_days": "SUDOLESS_EXECUTION_LOG_RETENTION_DAYS",
    "execution_dir_max_mb": "SUDOLESS_EXECUTION_DIR_MAX_MB",
    "max_upload_bytes": "SUDOLESS_MAX_UPLOAD_BYTES",
    "runtime_props_eager": "SUDOLESS_RUNTIME_PROPS_EAGER",
    "executor_timeout": "SUDOLESS_EXECUTOR_TIMEOUT",
    "server_threads": "SUDOLESS_SERVER_THREADS",
    "mysql_path": "SUDOLESS_MYSQL_PATH",
    "spark_cache_mb": "SUDOLESS_SPARK_CACHE_MB",
    "sandbox": "SUDOLESS_SANDBOX",
    "require_sandbox": "SUDOLESS_REQUIRE_SANDBOX",
    "sandbox_read": "SUDOLESS_SANDBOX_READ",
    "sandbox_write": "SUDOLESS_SANDBOX_WRITE",
    "sandbox_list_dirs": "SUDOLESS_SANDBOX_LIST_DIRS",
    "timezone": "SUDOLESS_TIMEZONE",
    "mail_host": "SUDOLESS_MAIL_HOST",
    "mail_port": "SUDOLESS_MAIL_PORT",
    "mail_security": "SUDOLESS_MAIL_SECURITY",
    "mail_user": "SUDOLESS_MAIL_USER",
    "mail_password_file": "SUDOLESS_MAIL_PASSWORD_FILE",
    "mail_from": "SUDOLESS_MAIL_FROM",
    "external_url": "SUDOLESS_EXTERNAL_URL",
    "trigger_databases": "SUDOLESS_TRIGGER_DATABASES",
    "trigger_check_seconds": "SUDOLESS_TRIGGER_CHECK_SECONDS",
    "trigger_minute_seconds": "SUDOLESS_TRIGGER_MINUTE_SECONDS",
    "spark_master": "SUDOLESS_SPARK_MASTER",
}

#: keys of config.toml's ``[mail]`` table and the settings they set
_MAIL_TABLE = {
    "host": "mail_host",
    "port": "mail_port",
    "security": "mail_security",
    "user": "mail_user",
    "password_file": "mail_password_file",
    "from": "mail_from",
    "timeout": "mail_timeout",
    "external_url": "external_url",
}


#: The property names of Azkaban's common LDAP user manager, accepted in config.toml so that a team moving
#: from Azkaban copies its settings. ``bindPassword`` names a file holding the password here: a password in a
#: config file is a password on disk next to everything else.
AZKABAN_LDAP = {
    f"user.manager.ldap.{name}": setting
    for name, setting in {
        "host": "ldap_host",
        "port": "ldap_port",
        "useSsl": "ldap_use_ssl",
        "userBase": "ldap_user_base",
        "userIdProperty": "ldap_user_id_property",
        "emailProperty": "ldap_email_property",
        "bindAccount": "ldap_bind_account",
        "bindPassword": "ldap_bind_password_file",
        "allowedGroups": "ldap_allowed_groups",
        "groupSearchBase": "ldap_group_search_base",
        "embeddedGroups": "ldap_embedded_groups",
    }.items()
}


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """``user.manager.ldap.host = ...`` written without quotes is a nested TOML table: flatten it back."""
    flat: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name != "group_roles":
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``env`` (default ``os.environ``), the config file and keyword overrides."""
    env = os.environ if env is None else env
    home = Path(env.get("SUDOLESS_HOME") or Path.home() / ".sudoless").expanduser()
    settings = Settings(home=home)
    config_file = home / "config.toml"
    values: dict[str, object] = {}
    if config_file.exists():
        import tomllib

        try:
            document = tomllib.loads(config_file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: {exc}; fix the TOML syntax") from None
        for key, value in _flatten(document.get("sudoless", {})).items():
            values[AZKABAN_LDAP.get(key, key)] = value
        for key, raw in (document.get("mail") or {}).items():
            if key not in _MAIL_TABLE:
                raise ConfigError(
                    f"{config_file}: unknown setting '{key}' in [mail]; known: {', '.join(sorted(_MAIL_TABLE))}"
                )
            values[_MAIL_TABLE[key]] = raw
    for name, var in _ENV.items():
        if var in env:
            values[name] = env[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in fields(Settings)}
    converted: dict[str, Any] = {}  # each value of its field's type, which _convert checks at run time
    for name, raw in values.items():
        if name not in known or name == "home":
            raise ConfigError(f"{config_file}: unknown setting '{name}'; known: {', '.join(sorted(known))}")
        converted[name] = _convert(name, raw, type(getattr(settings, name)))
    security = str(converted.get("mail_security", settings.mail_security)).lower()
    if security not in ("starttls", "tls", "plain"):
        raise ConfigError(f"{config_file}: [mail] security {security!r}: use starttls, tls or plain")
    converted["mail_security"] = security
    settings = replace(settings, **converted)
    if settings.timezone:
        from sudoless.zone import server_zone

        server_zone(settings.timezone)  # an unknown zone is refused now, not at the first schedule
    return settings


def _convert(name: str, raw: object, kind: type) -> object:
    if name == "group_roles" and isinstance(raw, dict):  # a TOML table: group = "role" or ["role", ...]
        return "; ".join(
            f"{group}={'+'.join(roles) if isinstance(roles, list) else roles}" for group, roles in raw.items()
        )
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    text = str(raw).strip()
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise ConfigError(f"setting '{name}': {text!r} is not a valid {kind.__name__}") from None


def ensure_home(settings: Settings) -> Path:
    """Create the home directory private to the user (0700), or make an existing one private with the
    secrets in it (0600): it holds the database and passwords. ConfigError when another account owns it.
    A home of an older version gets its per-database folder (:func:`sudoless.datadir.migrate_layout`)."""
    from sudoless.datadir import migrate_layout
    from sudoless.private import tighten_home

    home = tighten_home(settings.home)
    migrate_layout(home)
    return home


def database_password(settings: Settings) -> str | None:
    """The password for a database URL written without one: the first line of ``db_password_file``, else
    ``db_password`` from config.toml, else None. A password file other accounts can read is refused: the
    point of the file is that nobody else sees the password."""
    if not settings.db_password_file:
        return settings.db_password or None
    return read_secret_file(settings.db_password_file, "SUDOLESS_DB_PASSWORD_FILE", "database password")


def read_secret_file(name: str, what: str, secret: str) -> str:
    """The first line of the password file ``name`` (``what`` names its setting in errors). ConfigError when
    it cannot be read, is empty, or other accounts could read it (mode wider than 0600)."""
    path = Path(name).expanduser()
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{what} {path}: {exc.strerror or exc}; give a file whose first line is the {secret}"
        ) from None
    if mode & 0o077:
        raise ConfigError(f"{what} {path} can be read by other accounts (mode {mode:04o}); run 'chmod 600 {path}'")
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ConfigError(f"{what} {path}: the first line is empty; write the {secret} there")
    return lines[0]


# The process environment beyond the settings: what children inherit and libraries in this process read.

#: the interpreter PySpark's Python workers run (PySpark reads it when a context starts)
PYSPARK_PYTHON = "PYSPARK_PYTHON"
#: the Java a JVM (Spark's) runs from; with ``PATH`` what :mod:`sudoless.spark.java` looks at
JAVA_HOME = "JAVA_HOME"
#: the address Spark binds when it runs on this machine only
SPARK_LOCAL_IP = "SPARK_LOCAL_IP"
#: the virtual environment a shell has activated (``sudoless pack`` without a folder packs it)
VIRTUAL_ENV = "VIRTUAL_ENV"
#: thread counts the BLAS libraries read when NumPy loads them: OpenBLAS's first, whose value counts as the
#: user's choice (:mod:`sudoless.nn.threads`)
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def process_environment() -> dict[str, str]:
    """A copy of this process's environment: the base a child's environment is built from."""
    return dict(os.environ)


def environment_value(name: str, default: str = "") -> str:
    """The variable ``name`` of this process's environment (``default`` when unset): for a value that is not a
    setting but belongs to the machine or the shell (``PATH``, ``JAVA_HOME``, ``VIRTUAL_ENV``)."""
    return os.environ.get(name, default)


def export(name: str, value: str, *, replace: bool = True) -> None:
    """Set ``name`` in this process's environment, where every child started afterwards inherits it and a
    library reads it (PySpark when it starts its JVM, BLAS when NumPy loads); ``replace=False`` keeps a
    value already set."""
    if replace:
        os.environ[name] = value
    else:
        os.environ.setdefault(name, value)


def blas_threads_in_environment() -> int | None:
    """The BLAS thread count the environment asks for (``OPENBLAS_NUM_THREADS``, a positive number), else None."""
    value = environment_value(BLAS_THREAD_VARIABLES[0])
    return int(value) if value.isdigit() and int(value) > 0 else None


def active_virtualenv() -> Path | None:
    """The virtual environment the shell has activated, if any."""
    venv = environment_value(VIRTUAL_ENV)
    return Path(venv) if venv else None

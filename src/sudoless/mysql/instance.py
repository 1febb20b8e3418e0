"""One user-space server instance as sudoless records it: ``instance.json`` and the ``my.cnf`` made from it.

``instance.json`` is written last at init, so a folder without one is an init that did not finish.
``my.cnf`` is generated once at init and then belongs to the user: tuning it by hand is fine, and only
``sudoless mysql start --port`` rewrites a line of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from sudoless.config import Settings
from sudoless.errors import ConfigError, NotFoundError
from sudoless.mysql.admin import APP_DATABASE, APP_USER, sqlalchemy_url
from sudoless.mysql.binaries import Flavour, version_tuple
from sudoless.mysql.layout import InstancePaths, check_name, instance_paths, instances_dir, name_flag
from sudoless.mysql.ports import client_host

#: fresh data directories of 34 MB instead of 114 MB (MariaDB's default redo log is 96 MiB): HPC home
#: directories have quotas.
REDO_LOG_SIZE = "16M"
BUFFER_POOL_SIZE = "128M"


@dataclass(frozen=True)
class Instance:
    """What sudoless knows about an instance; the server's own options are in ``my.cnf``."""

    name: str
    root: Path
    datadir: Path
    #: sudoless created the data directory, so destroy may delete it (a --datadir outside the folder).
    owns_datadir: bool
    flavour: Flavour
    version: str
    server: Path
    basedir: Path
    install_db: Path | None
    client: Path | None
    plugin_dir: Path | None
    messages_dir: Path | None
    port: int
    bind_address: str
    #: the socket path as the server is told it: absolute, or relative to the data directory when long.
    socket_option: str
    created: str
    #: False while the port is one sudoless picked and no server has listened on it yet. Two instances
    #: created at the same moment can probe the same free port (the server binds it only at start), so the
    #: first start moves such an instance to another free port instead of failing. Once it has served, or
    #: when the user chose the port, clients may know it: then a taken port is an error that says so.
    port_settled: bool = True

    @property
    def paths(self) -> InstancePaths:
        return InstancePaths(self.root)

    @property
    def label(self) -> str:
        return f"{self.flavour.label} {self.version}"

    @property
    def host(self) -> str:
        return client_host(self.bind_address)

    def root_password(self) -> str:
        return _read_secret(self.paths.root_password)

    def app_password(self) -> str:
        return _read_secret(self.paths.app_password)

    def url(self, admin: bool = False, password: bool = True) -> str:
        """The SQLAlchemy URL: the ``sudoless`` user and database, or root and no database (``admin``);
        without the password (``password=False``), which :meth:`password_file` then holds."""
        if admin:
            return sqlalchemy_url(self.host, self.port, "root", self.root_password() if password else None)
        return sqlalchemy_url(self.host, self.port, APP_USER, self.app_password() if password else None, APP_DATABASE)

    def password_file(self, admin: bool = False) -> Path:
        """The 0600 file holding the password of :meth:`url` (root's with ``admin``)."""
        return self.paths.root_password if admin else self.paths.app_password

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            key: (str(value) if isinstance(value, Path) else value.value if isinstance(value, Flavour) else value)
            for key, value in data.items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Instance:
        paths = {"root", "datadir", "server", "basedir", "install_db", "client", "plugin_dir", "messages_dir"}
        values = {f.name: data[f.name] for f in fields(cls) if f.name != "port_settled"}
        values["port_settled"] = bool(data.get("port_settled", True))  # instances made before it existed
        for key in paths:
            values[key] = Path(values[key]) if values[key] is not None else None
        values["flavour"] = Flavour(values["flavour"])
        values["port"] = int(values["port"])
        return cls(**values)


def _read_secret(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing; set a new password with 'sudoless mysql passwd'") from None


def save(instance: Instance) -> None:
    meta = instance.paths.meta
    partial = meta.with_name(f".{meta.name}.partial")
    partial.write_text(json.dumps(instance.to_json(), indent=2, sort_keys=True) + "\n")
    partial.replace(meta)


def load_instance(settings: Settings, name: str) -> Instance:
    paths = instance_paths(settings, name)
    try:
        data = json.loads(paths.meta.read_text())
    except FileNotFoundError:
        raise NotFoundError(
            f"no MySQL instance '{name}' in {instances_dir(settings)}; create it with "
            f"'sudoless mysql init{name_flag(name)}'"
        ) from None
    except (json.JSONDecodeError, OSError) as exc:
        raise ConfigError(f"{paths.meta}: {exc}; fix or remove the instance folder") from None
    try:
        return Instance.from_json(data)
    except (KeyError, ValueError, TypeError) as exc:
        problem = f"{exc.__class__.__name__}: {exc}"
        raise ConfigError(f"{paths.meta}: {problem}; fix or remove the instance folder") from None


def exists(settings: Settings, name: str) -> bool:
    return instance_paths(settings, name).meta.is_file()


def list_instances(settings: Settings) -> list[Instance]:
    directory = instances_dir(settings)
    if not directory.is_dir():
        return []
    names = sorted(p.parent.name for p in directory.glob("*/instance.json"))
    return [load_instance(settings, check_name(name)) for name in names]


def server_options(instance: Instance) -> str:
    """The text of ``my.cnf``. Everything the server writes goes into the instance folder, and it listens
    on ``bind_address`` only (without one it would listen on every interface).
    """
    paths = instance.paths
    options: list[tuple[str, str | None]] = [
        ("basedir", str(instance.basedir)),
        ("datadir", str(instance.datadir)),
        ("socket", instance.socket_option),
        ("pid-file", str(paths.pid_file)),
        ("log-error", str(paths.error_log)),
        ("tmpdir", str(paths.tmp)),
        ("secure-file-priv", str(paths.files)),
        ("port", str(instance.port)),
        ("bind-address", instance.bind_address),
        ("skip-name-resolve", None),
        ("character-set-server", "utf8mb4"),
        ("collation-server", "utf8mb4_unicode_ci"),
        ("innodb-buffer-pool-size", BUFFER_POOL_SIZE),
    ]
    if instance.plugin_dir is not None:
        options.append(("plugin-dir", str(paths.plugins)))
    if instance.messages_dir is not None:
        options.append(("lc-messages-dir", str(paths.messages)))
    if instance.flavour is Flavour.MARIADB:
        options.append(("innodb-log-file-size", REDO_LOG_SIZE))
    elif version_tuple(instance.version) >= (8, 0, 0):
        # the X Plugin would listen on 33060 and /tmp/mysqlx.sock, shared by every MySQL 8 on the machine
        options.append(("mysqlx", "OFF"))
    lines = [
        f"# Written by 'sudoless mysql init' for instance '{instance.name}' ({instance.label}).",
        "# The server reads only this file: sudoless passes it first, as --defaults-file, so neither",
        "# /etc/mysql nor ~/.my.cnf applies. Edit freely; 'start --port' rewrites only the port line.",
        "[mysqld]",
    ]
    lines += [name if value is None else f"{name} = {value}" for name, value in options]
    return "\n".join(lines) + "\n"


def with_port(options_text: str, port: int) -> str:
    updated, count = re.subn(r"(?m)^port\s*=.*$", f"port = {port}", options_text)
    return updated if count else options_text.replace("[mysqld]\n", f"[mysqld]\nport = {port}\n", 1)

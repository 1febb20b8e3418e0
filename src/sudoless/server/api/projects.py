"""``/projects``: list, create, delete; upload zips as new versions, list and download versions; proxy users
and grants. Each route checks the permission of the AJAX route that does the same (``/manager``)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sudoless.errors import InputError, NotFoundError
from sudoless.flows import projects as lifecycle
from sudoless.server.ajax.manager import MANAGER
from sudoless.server.api.context import Caller, CallerDep, ajax_permission
from sudoless.server.api.errors import HttpError, error_responses
from sudoless.server.api.models import PATH_NAME, Grant, ProjectCreate, ProjectInfo, UploadResult, VersionInfo
from sudoless.server.api.routing import ThreadedRoute
from sudoless.server.params import BadBody, BodyTooLarge, read_params
from sudoless.store.projects import ProjectRecord, VersionRecord

router = APIRouter(prefix="/projects", tags=["projects"], route_class=ThreadedRoute)

READ = ajax_permission(MANAGER, "ajax:getProjectId")
WRITE = ajax_permission(MANAGER, "upload")
DELETE = ajax_permission(MANAGER, "delete")
DOWNLOAD = ajax_permission(MANAGER, "download")
GRANTS = ajax_permission(MANAGER, "ajax:getPermissions")
PROXIES = ajax_permission(MANAGER, "ajax:getProxyUsers")
ADD_PROXY = ajax_permission(MANAGER, "ajax:addProxyUser")
REMOVE_PROXY = ajax_permission(MANAGER, "ajax:removeProxyUser")

ProjectName = Annotated[
    str, PathParam(min_length=1, max_length=255, pattern=PATH_NAME, description="the project's name")
]
ProxyName = Annotated[str, PathParam(min_length=1, max_length=255, pattern=PATH_NAME)]


def project_info(project: ProjectRecord) -> ProjectInfo:
    return ProjectInfo(
        id=project.id,
        name=project.name,
        description=project.description,
        version=project.version,
        created_time=project.created_time,
        created_by=project.created_by,
        modified_time=project.modified_time,
        modified_by=project.modified_by,
    )


def version_info(record: VersionRecord) -> VersionInfo:
    return VersionInfo(
        version=record.version,
        upload_time=record.upload_time,
        uploader=record.uploader,
        file_name=record.file_name,
        md5=record.md5,
        size=record.size,
        flow_version=record.flow_version,
    )


@router.get("", response_model=list[ProjectInfo], responses=error_responses(), summary="Projects the caller may read")
def list_projects(call: CallerDep) -> list[ProjectInfo]:
    return [project_info(p) for p in call.store.projects.active() if call.allowed(p.id, READ)]


@router.post(
    "", status_code=201, response_model=ProjectInfo, responses=error_responses(409), summary="Create an empty project"
)
def create_project(body: ProjectCreate, call: CallerDep) -> ProjectInfo:
    """The creator gets ADMIN on the project and becomes its first proxy user, as in Azkaban."""
    project_id = lifecycle.create_project(call.store, body.name, body.description, call.user.name)
    call.accounts.grant_creator(project_id, call.user)
    project = call.store.projects.get(project_id=project_id)
    assert project is not None
    return project_info(project)


@router.get("/{project}", response_model=ProjectInfo, responses=error_responses(403, 404), summary="One project")
def get_project(project: ProjectName, call: CallerDep) -> ProjectInfo:
    return project_info(call.project(project, READ))


@router.delete(
    "/{project}",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404),
    summary="Delete a project and its schedules",
)
def delete_project(project: ProjectName, call: CallerDep) -> Response:
    """The project is marked deleted (its name can be reused); its stored versions stay until purged."""
    lifecycle.delete_project(call.store, call.scheduler, call.project(project, DELETE), call.user.name)
    return Response(status_code=204)


@router.get(
    "/{project}/versions",
    response_model=list[VersionInfo],
    responses=error_responses(403, 404),
    summary="Uploaded versions, newest first",
)
def list_versions(project: ProjectName, call: CallerDep) -> list[VersionInfo]:
    return [version_info(v) for v in call.store.projects.versions(call.project(project, READ).id)]


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the project as a .zip"}
                    },
                }
            }
        },
    }
}


def _local_name(filename: str) -> str:
    name = PurePosixPath(filename.replace("\\", "/")).name
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name).lstrip(".")[-200:]
    return safe if safe.lower().endswith(".zip") else "project.zip"


@router.post(
    "/{project}/versions",
    status_code=201,
    response_model=UploadResult,
    responses=error_responses(403, 404, 413),
    openapi_extra=UPLOAD_BODY,
    summary="Upload a zip as the next version",
)
async def upload(project: ProjectName, request: Request, call: CallerDep) -> UploadResult:
    """Validated whole before anything is stored: an unsafe or invalid zip (400) leaves the current version.
    Schedules of flows the new version lacks are removed."""
    record = await run_in_threadpool(call.project, project, WRITE)
    try:
        params = await read_params(request, call.settings.max_upload_bytes)
    except BodyTooLarge as exc:
        raise HttpError(413, str(exc)) from None
    except BadBody as exc:
        raise HttpError(400, str(exc)) from None
    try:
        upload_file = params.file("file")
        if upload_file is None:
            raise InputError("expected multipart/form-data with the project zip in a 'file' field")
        return await run_in_threadpool(_store_upload, call, record, upload_file.file, upload_file.filename or "")
    finally:
        params.close()


def _store_upload(call: Caller, project: ProjectRecord, data: BinaryIO, filename: str) -> UploadResult:
    scratch = Path(tempfile.mkdtemp(prefix="sudoless-upload-"))
    try:
        archive = scratch / _local_name(filename)
        with open(archive, "wb") as out:
            data.seek(0)
            shutil.copyfileobj(data, out, 1 << 20)
        version, loaded = lifecycle.upload_archive(
            call.store, call.settings, call.scheduler, project, archive, call.user.name
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return UploadResult(
        project=project.name,
        project_id=project.id,
        version=version,
        flows=loaded.top_flows,
        warnings=list(loaded.warnings),
    )


@router.get(
    "/{project}/versions/{version}/archive",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the zip as uploaded",
        },
        **error_responses(403, 404),
    },
    summary="Download a version's zip",
)
def download(
    project: ProjectName, version: Annotated[int, PathParam(ge=1, le=2**31 - 1)], call: CallerDep
) -> StreamingResponse:
    record = call.project(project, DOWNLOAD)
    stored = call.store.projects.version(record.id, version)
    if stored is None:
        raise NotFoundError(f"Project {record.name} with version {version} doesn't exist")
    headers = {"Content-Disposition": f'attachment; filename="{stored.file_name}"', "Content-Length": str(stored.size)}
    return StreamingResponse(
        call.store.projects.iter_archive(record.id, version), media_type="application/zip", headers=headers
    )


@router.get(
    "/{project}/permissions",
    response_model=list[Grant],
    responses=error_responses(403, 404),
    summary="Grants on the project",
)
def grants(project: ProjectName, call: CallerDep) -> list[Grant]:
    record = call.project(project, GRANTS)
    return [
        Grant(name=name, group=is_group, permissions=perms.names())
        for name, is_group, perms in call.accounts.project_permissions(record.id)
    ]


@router.get(
    "/{project}/proxy-users",
    response_model=list[str],
    responses=error_responses(403, 404),
    summary="Proxy users of the project",
)
def proxy_users(project: ProjectName, call: CallerDep) -> list[str]:
    """Metadata: every job runs as the executor's own Unix user, whatever ``user.to.proxy`` says."""
    return call.accounts.proxy_users(call.project(project, PROXIES).id)


@router.put(
    "/{project}/proxy-users/{name}",
    response_model=list[str],
    responses=error_responses(403, 404),
    summary="Add a proxy user",
)
def add_proxy_user(project: ProjectName, name: ProxyName, call: CallerDep) -> list[str]:
    """Project ADMIN; and the name must be among the caller's own proxy users, unless a global admin."""
    record = call.project(project, ADD_PROXY)
    call.accounts.add_proxy_user(record.id, name, call.user)
    return call.accounts.proxy_users(record.id)


@router.delete(
    "/{project}/proxy-users/{name}",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404),
    summary="Remove a proxy user",
)
def remove_proxy_user(project: ProjectName, name: ProxyName, call: CallerDep) -> Response:
    record = call.project(project, REMOVE_PROXY)
    if not call.accounts.remove_proxy_user(record.id, name, call.user):
        raise NotFoundError(f"{name} is not a proxy user of project {record.name}")
    return Response(status_code=204)

"""Sandbox grants over real HTTP (``/manager?ajax=setSandboxGrants``): only a server admin may widen what a
project's jobs touch; a project's own ADMIN, any user who created one, is refused and nothing changes."""

from __future__ import annotations

from server.live import HELLO, Client, LiveServer, make_zip, unique


def test_only_a_server_admin_grants_paths_and_ports(live: LiveServer, admin: Client) -> None:
    user, password = live.add_user("owner")
    owner = live.login(user.name, password)
    name = unique("sg")
    owner.create_project(name)
    assert owner.upload(name, make_zip(HELLO)).status_code == 200
    none = {"read": [], "write": [], "ports": None}
    assert {k: v for k, v in owner.ajax("/manager", "getSandboxGrants", project=name).items() if k in none} == none
    refused = owner.ajax(
        "/manager",
        "setSandboxGrants",
        via="POST",
        project=name,
        read=str(live.settings.home),
        write=str(live.settings.home),
    )
    assert refused["error"] == "Permission denied. Only a server admin may grant paths or ports to jobs."
    assert owner.ajax("/manager", "getSandboxGrants", project=name)["write"] == []
    granted = admin.ajax(
        "/manager",
        "setSandboxGrants",
        via="POST",
        project=name,
        read="/srv/ref, /srv/lookup",
        write="/srv/out",
        ports="5432,443",
    )
    assert (granted["read"], granted["write"], granted["ports"]) == (
        ["/srv/ref", "/srv/lookup"],
        ["/srv/out"],
        [443, 5432],
    )
    assert admin.ajax("/manager", "setSandboxGrants", via="POST", project=name, read="relative/dir")["error"] == (
        "read: 'relative/dir' is not an absolute path; give each path in full, from '/'"
    )
    assert owner.ajax("/manager", "getSandboxGrants", project=name)["ports"] == [443, 5432]
    # Without READ on the project nobody learns its grants.
    stranger, pw = live.add_user("stranger")
    assert "error" in live.login(stranger.name, pw).ajax("/manager", "getSandboxGrants", project=name)

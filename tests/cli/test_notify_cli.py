"""``sudoless flow run`` delivers its execution's notifications before it exits, and ``flow show --json`` lists
them with every attempt; the mail settings come from config.toml's ``[mail]`` table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flows.harness import write_project
from support.receivers import MailServer

SUDOLESS = Path(sys.executable).with_name("sudoless")


def sudoless(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SUDOLESS_")}
    env["SUDOLESS_HOME"] = str(home)
    return subprocess.run([str(SUDOLESS), *args], env=env, capture_output=True, text=True, timeout=120)


def test_flow_run_sends_and_show_lists_attempts(tmp_path: Path) -> None:
    smtp = MailServer(tmp_path)
    try:
        home = tmp_path / "home"
        home.mkdir()
        (home / "config.toml").write_text(
            f'[mail]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "plain"\nfrom = "cli@example.org"\n'
            'external_url = "https://flows.example.org"\n'
        )
        project = write_project(
            tmp_path / "nightly", {"load.job": "type=command\ncommand=false\nfailure.emails=ops@example.org\n"}
        )
        result = sudoless(home, "flow", "run", str(project), "--json")
        assert result.returncode == 1, result.stderr
        report = json.loads(result.stdout)
        [mail] = smtp.messages
        assert mail.recipients == ["ops@example.org"] and mail.message["From"] == "cli@example.org"
        assert f"(execution {report['execid']})" in mail.message["Subject"]
        [row] = report["notifications"]
        assert row["status"] == "sent" and row["event"] == "flow_failed"

        shown = sudoless(home, "flow", "show", str(report["execid"]), "--json")
        assert shown.returncode == 0, shown.stderr
        [listed] = json.loads(shown.stdout)["notifications"]
        assert listed["target"] == "ops@example.org" and [a["outcome"] for a in listed["attempts"]] == ["sent"]

        (home / "config.toml").write_text('[mail]\nsecurity = "smoke-signals"\n')
        bad = sudoless(home, "flow", "show", str(report["execid"]))
        assert bad.returncode == 2 and "security 'smoke-signals': use starttls, tls or plain" in bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        smtp.stop()

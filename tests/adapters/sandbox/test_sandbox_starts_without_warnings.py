"""Starting the sandbox bank (as ``huzhu demo`` and ``huzhu sandbox-bank serve`` do) prints no
third-party deprecation warnings between the lines the operator reads."""

from __future__ import annotations

import subprocess
import sys

from gateway.settings import REPO_ROOT


def test_importing_the_sandbox_bank_and_the_demo_exchange_prints_nothing() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "default",
            "-c",
            "import adapters.sandbox.sftp_server, gateway.demo.exchange",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == ""

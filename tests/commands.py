"""The CLI as a user runs it: the installed ``semsearch`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def semsearch_command() -> list[str]:
    script = Path(sys.executable).parent / "semsearch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "semsearch"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any SEMSEARCH_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSEARCH_")}
    return {**env, **extra}


def run_cli(
    *args: str, cwd: Path, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*semsearch_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(**env),
    )


def one_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The command failed with ``code`` and said why in one line, without a traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr

"""Environment for subprocesses started by tests (the app under test, CLI commands).

Why: the internet guard patches sockets in the pytest process only; a subprocess needs
tests/guard on PYTHONPATH (its sitecustomize installs the same guard) and BANTIN_NETGUARD=1.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
GUARD_DIR = REPO_ROOT / "tests" / "guard"


def subprocess_env(**extra: str | int | float | Path | None) -> dict[str, str]:
    """os.environ plus the guard (PYTHONPATH=tests/guard:<repo>, BANTIN_NETGUARD=1) and extras.

    The repository root follows tests/guard on PYTHONPATH so ``python -m bot`` works from any
    working directory. An extra set to None removes that variable.
    """
    env = dict(os.environ)
    paths = [str(GUARD_DIR), str(REPO_ROOT)]
    if env.get("PYTHONPATH"):
        paths += [p for p in env["PYTHONPATH"].split(os.pathsep) if p and p not in paths]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["BANTIN_NETGUARD"] = "1"
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env

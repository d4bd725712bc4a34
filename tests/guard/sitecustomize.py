"""Guard subprocesses started by tests against the internet (see tests/fakes/netguard.py).

Python imports ``sitecustomize`` at start-up from the path, so a test that starts the app with
``env=subprocess_env()`` (PYTHONPATH=tests/guard, BANTIN_NETGUARD=1) gets the same guard as the
pytest process. The guard is loaded by file path because the ``tests`` package is not importable
there; nothing at all happens unless BANTIN_NETGUARD=1.
"""

import os

if os.environ.get("BANTIN_NETGUARD") == "1":
    import importlib.util
    import pathlib
    import sys

    _path = pathlib.Path(__file__).resolve().parent.parent / "fakes" / "netguard.py"
    _spec = importlib.util.spec_from_file_location("bantin_netguard", _path)
    if _spec is None or _spec.loader is None:  # pragma: no cover - broken checkout
        raise ImportError(f"bantin netguard not found at {_path}")
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["bantin_netguard"] = _module
    _spec.loader.exec_module(_module)
    _module.install()

"""The layers import only downward: storage ← jobs ← bot; bench and tests sit beside them.

storage (records, repositories, migrations) imports neither jobs nor bot; jobs (the pipeline
and its ports) never imports bot (the edges: adapters, dialog, CLI, processes); no production
package imports tests or bench; bench runs without the test suite, so it never imports tests
(what both need lives in bench/support.py). Every import counts, wherever it sits: at the top,
inside a function, under `if TYPE_CHECKING:`, relative, or a literal `importlib.import_module`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> the top-level packages it must never import
FORBIDDEN: dict[str, frozenset[str]] = {
    "storage": frozenset({"jobs", "bot", "tests", "bench"}),
    "jobs": frozenset({"bot", "tests", "bench"}),
    "bot": frozenset({"tests", "bench"}),
    "bench": frozenset({"tests"}),
}


def module_name(path: Path, root: Path = ROOT) -> str:
    """`jobs/send/pacing.py` -> `jobs.send.pacing`; a package's __init__ is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(
    source: str, module: str, *, is_package: bool = False
) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in `source`, at any depth."""
    tree = ast.parse(source)
    # The package a relative import starts from.
    base = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                found.append((node.lineno, node.module or ""))
                continue
            anchor = base[: len(base) - (node.level - 1)]
            if node.module:
                found.append((node.lineno, ".".join([*anchor, node.module])))
            else:  # `from .. import x`: x is a module of the anchor package
                found.extend((node.lineno, ".".join([*anchor, a.name])) for a in node.names)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in {"import_module", "__import__"}
                )
            )
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def violations(source: str, filename: str, module: str, *, is_package: bool = False) -> list[str]:
    """One line per import that goes against FORBIDDEN: 'file:line: import X (layer rule)'."""
    layer = module.split(".")[0]
    banned = FORBIDDEN.get(layer, frozenset())
    out = []
    for line, name in imported_modules(source, module, is_package=is_package):
        top = name.split(".")[0]
        if top in banned:
            out.append(f"{filename}:{line}: import {name} ({layer} must not import {top})")
    return out


def layer_violations(root: Path = ROOT) -> list[str]:
    out: list[str] = []
    for layer in FORBIDDEN:
        for path in sorted((root / layer).rglob("*.py")):
            out.extend(
                violations(
                    path.read_text(encoding="utf-8"),
                    str(path.relative_to(root)),
                    module_name(path, root),
                    is_package=path.name == "__init__.py",
                )
            )
    return out


def test_every_layer_imports_only_downward() -> None:
    found = layer_violations()
    assert not found, "imports against the layers:\n" + "\n".join(found)


def test_the_layers_are_where_the_check_looks() -> None:
    # A renamed or moved package would make the check above pass vacuously.
    for layer in FORBIDDEN:
        assert len(list((ROOT / layer).rglob("*.py"))) > 2, layer


# -- the checker itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "storage.feeds",
            "import jobs.channel\n",
            "import jobs.channel (storage must not import jobs)",
        ),
        (
            "storage.feeds",
            "from bot.app import compose\n",
            "import bot.app (storage must not import bot)",
        ),
        (
            "jobs.send.deliverer",
            "from bot.adapters.telegram import adapter\n",
            "jobs must not import bot",
        ),
        ("bench.poll", "from tests.fakes.seed import seed\n", "bench must not import tests"),
        ("bot.cli.main", "import tests.fakes.net\n", "bot must not import tests"),
        ("jobs.render", "from bench.support import make_feed\n", "jobs must not import bench"),
        # at any depth: in a function, under TYPE_CHECKING, in a try
        (
            "jobs.ingest.poll",
            "def f():\n    if True:\n        from bot.app.settings import Settings\n",
            "jobs/x.py:3: import bot.app.settings",
        ),
        (
            "jobs.ingest.poll",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.app import App\n",
            "jobs/x.py:3: import bot.app",
        ),
        ("storage.store", "try:\n    import bot\nexcept ImportError:\n    pass\n", "import bot "),
        # relative imports are resolved: storage/x.py's `from .. import bot` is the top package bot
        ("storage.feeds", "from .. import bot\n", "storage must not import"),
        (
            "jobs.send.deliverer",
            "from ...bot import app\n",
            "import bot (jobs must not import bot)",
        ),
        (
            "jobs.ops.leader",
            "import importlib\nimportlib.import_module('bot.app')\n",
            "import bot.app",
        ),
    ],
)
def test_the_checker_names_file_line_and_import(module: str, source: str, expected: str) -> None:
    filename = f"{module.split('.')[0]}/x.py"
    found = violations(source, filename, module)
    assert len(found) == 1 and expected in found[0] and found[0].startswith(f"{filename}:")


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("jobs.send.deliverer", "from storage.store import Store\nimport jobs.channel\n"),
        ("bot.app.compose", "from jobs.send.deliverer import Deliverer\nimport storage\n"),
        ("bench.broadcast", "from bench.support import seed_subscribers\nimport bot.app\n"),
        ("jobs.send.deliverer", "from .pacing import Pacer\nfrom ..channel import Channel\n"),
        ("storage.store", "import botocore\nfrom jobsearch import x\nimport testsuite\n"),
    ],
)
def test_the_checker_lets_downward_and_sibling_imports_pass(module: str, source: str) -> None:
    assert violations(source, "x.py", module) == []


def test_a_package_init_resolves_relative_imports_from_itself(tmp_path: Path) -> None:
    # jobs/__init__.py's `from .. import bot` leaves the project; `from . import x` stays in jobs.
    assert violations("from . import channel\n", "jobs/__init__.py", "jobs", is_package=True) == []
    pkg = tmp_path / "jobs" / "send"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from ... import bot\n")
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "ok.py").write_text("from storage.records import Feed\n")
    assert layer_violations(tmp_path) == [
        "jobs/send/__init__.py:1: import bot (jobs must not import bot)"
    ]

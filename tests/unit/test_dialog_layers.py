"""The dialog's own layering: flows side by side, the Dialog above them, adapters outside.

Each flow (bot/dialog/flows/) builds its own router from a context and imports only the dialog
layer (context, groups, filing, menus, screens, events, routes) and the layers below; it never
imports another flow, the Dialog (bot.dialog.router), an adapter, the app or the CLI. What two
flows share belongs to the dialog layer, so a flow can be changed or removed without touching
another. The rest of bot/dialog never imports an adapter either: the Zalo menu channel lives
in bot/adapters/zalo/menus.py. Every import counts, wherever it sits (a function, under
`if TYPE_CHECKING:`) and however it is spelled (relative, `from bot.dialog.flows import x`).
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Command, Who
from bot.dialog.router import FLOWS, Dialog
from bot.dialog.routes import FlowRouter
from jobs.channel import HTML, Capabilities
from storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
FLOWS_DIR = ROOT / "bot" / "dialog" / "flows"
# Above the flows or beside the dialog: a flow importing any of these is wired the wrong way.
FLOW_MAY_NOT_IMPORT = ("bot.dialog.router", "bot.adapters", "bot.app", "bot.cli")


def imports_of(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute name) for every import at any depth; `from a import b` yields both `a`
    and `a.b` (b may be a module), relative imports are resolved against `module`."""
    package = module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - (node.level - 1)] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def flow_violations(source: str, module: str) -> list[str]:
    """One line per import a flow must not make: another flow, the Dialog, an adapter…"""
    out = []
    for line, name in imports_of(source, module):
        other_flow = (
            _under(name, "bot.dialog.flows")
            and name != "bot.dialog.flows"
            and not _under(name, module)
        )
        if other_flow or any(_under(name, banned) for banned in FLOW_MAY_NOT_IMPORT):
            out.append(f"{module}:{line}: import {name}")
    return out


def flow_modules() -> list[Path]:
    return sorted(p for p in FLOWS_DIR.glob("*.py") if p.name != "__init__.py")


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_no_flow_imports_another_flow_the_dialog_or_an_adapter() -> None:
    found = [
        v for path in flow_modules() for v in flow_violations(path.read_text(), module_of(path))
    ]
    assert not found, "flows wired the wrong way:\n" + "\n".join(found)


def test_the_dialog_layer_imports_no_adapter() -> None:
    found = [
        f"{module_of(path)}:{line}: import {name}"
        for path in sorted((ROOT / "bot" / "dialog").rglob("*.py"))
        for line, name in imports_of(path.read_text(), module_of(path))
        if _under(name, "bot.adapters")
    ]
    assert not found, "\n".join(found)


def test_the_dialog_includes_every_flow_once() -> None:
    # A flow module left out of FLOWS would be dead code with tests that still pass.
    included = [flow.__name__ for flow in FLOWS]
    assert sorted(included) == sorted(module_of(p) for p in flow_modules())
    assert len(set(included)) == len(included)
    assert len(flow_modules()) > 5  # the check above did not look in an empty folder


# -- the checker itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "from bot.dialog.flows import groups\n",
        "from bot.dialog.flows.feedback import take\n",
        "import bot.dialog.flows.inbox\n",
        "from . import keywords\n",
        "from .feedback import take\n",
        "from bot.dialog.router import Dialog\n",
        "if TYPE_CHECKING:\n    from bot.dialog.router import Dialog\n",
        "def f():\n    from bot.adapters.zalo.menus import MenuChannel\n",
        "from bot.adapters.telegram import adapter\n",
        "from bot.app.compose import App\n",
    ],
)
def test_the_checker_refuses(source: str) -> None:
    assert len(flow_violations(source, "bot.dialog.flows.reading")) >= 1, source


@pytest.mark.parametrize(
    "source",
    [
        "from bot.dialog.context import FlowContext, Outcome, parse_id\n",
        "from bot.dialog.groups import may_manage\nfrom bot.dialog.menus import FEEDBACK_CODE\n",
        "from bot.dialog.routes import FlowRouter\n",
        "from bot.dialog.screens import render_settings\n",
        "from jobs.route.match import wants\nfrom storage.records import Subscriber\n",
        "from bot.dialog.flows.reading import LATEST\n",  # itself
        "import bot.dialog.flows\n",  # the package holds no code
        "from bot.adaptersx import y\n",  # a prefix of a name is not the package
    ],
)
def test_the_checker_allows(source: str) -> None:
    assert flow_violations(source, "bot.dialog.flows.reading") == []


# -- including routers ---------------------------------------------------------------------------

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
CAPS = Capabilities(markup=HTML)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated Store on a real SQLite file."""
    s = Store.open(f"sqlite:///{tmp_path}/bantin.db")
    await s.migrate()
    yield s
    await s.aclose()


def test_every_flow_builds_its_own_router_from_a_context(store: Store) -> None:
    ctx = FlowContext(store, lambda _p: CAPS, lambda: NOW)
    for flow in FLOWS:
        router = flow.router(ctx)
        assert isinstance(router, FlowRouter) and router.name == flow.__name__.rsplit(".", 1)[1]
        assert router.commands or router.presses or router.states or router.texts


async def test_the_dialog_refuses_a_second_claim_and_serves_an_included_router(
    store: Store,
) -> None:
    dialog = Dialog(store, capabilities=lambda _p: CAPS, clock=lambda: NOW)
    clash = FlowRouter("clash")

    async def start(cmd: Command) -> Outcome:
        return Outcome()

    clash.command(start, "start")  # subscription's
    with pytest.raises(ValueError, match="clash"):
        dialog.include(clash)

    extra = FlowRouter("extra")

    async def ping(cmd: Command) -> Outcome:
        return Outcome([dialog.ctx.say(cmd.who, "pong")])

    extra.command(ping, "ping")
    dialog.include(extra)
    outcome = await dialog.handle(Command(Who("telegram", "1", "1"), "ping"))
    assert [m.text for m in outcome.replies] == ["pong"]
    outcome = await dialog.handle(Command(Who("telegram", "1", "1"), "start"))
    assert outcome.replies and outcome.replies[0].text != ""  # still subscription's /start

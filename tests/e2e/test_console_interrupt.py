"""Ctrl+C in a terminal running `bantin run` (console mode, what `make run` starts).

A terminal sends SIGINT to the whole foreground process GROUP, so the feed-parsing worker
processes (and the forkserver they fork from) get it too, not only `bantin`. The parent owns
the stop; nothing else may die with its own KeyboardInterrupt traceback, and a stop that cuts
passes short is not an error: the run ends with exit status 0 and no traceback, whenever the
Ctrl+C comes.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Bantin


def interrupt(bantin: Bantin, tmp_path: Path, ready: Callable[[str], bool], delay: float) -> str:
    """Start `bantin run`, send Ctrl+C `delay` seconds after a stdout line passes `ready`,
    check it exits 0 with no traceback; its stderr."""
    stderr_path = tmp_path / "run.stderr"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        proc = subprocess.Popen(
            [bantin.executable, "run"],
            cwd=bantin.cwd,
            env=bantin.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
            start_new_session=True,  # its own process group, as a shell gives a foreground job
        )
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 40
        while not any(ready(line) for line in seen):
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the awaited line did not appear:\n" + "".join(seen)
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, "bantin run exited early:\n" + stderr_path.read_text(
                encoding="utf-8"
            )
            seen.append(line)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C does: the whole group
        assert proc.wait(timeout=30) == 0, stderr_path.read_text(encoding="utf-8")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    reader.join(timeout=10)
    while True:
        try:
            rest = lines.get_nowait()
        except queue.Empty:
            break
        if rest is not None:
            seen.append(rest)

    out = "".join(seen)
    err = stderr_path.read_text(encoding="utf-8")
    for text in (out, err):
        assert "Traceback" not in text, text
        assert "KeyboardInterrupt" not in text, text
    return err


@pytest.mark.slow
def test_ctrl_c_in_console_mode_ends_cleanly(bantin: Bantin, tmp_path: Path) -> None:
    err = interrupt(bantin, tmp_path, lambda line: "→ demo" in line, 0.0)  # the first push
    assert err.rstrip().splitlines()[-1].endswith("stopping"), err


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.4, 0.8])
def test_ctrl_c_soon_after_start_ends_cleanly(bantin: Bantin, tmp_path: Path, delay: float) -> None:
    """From the banner on, the worker processes are starting (the forkserver imports the
    parsing modules, ~1 s) and the first passes run with database connections in hand: a
    Ctrl+C there stops it all with neither an error nor a warning."""
    err = interrupt(bantin, tmp_path, lambda line: "Ctrl+C" in line, delay)
    assert not [line for line in err.splitlines() if " ERROR " in line or " WARNING " in line], err

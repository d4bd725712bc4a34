"""`bantin summarize`: JSON Lines in, the same lines with a "summary" out, no database.

A tool for editors and for measuring the summarizer on a corpus: the same extraction and
summary code the pipeline uses (jobs/enrich), one item's failure kept to its own line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Annotated, Any

import httpx
import typer

from bot.cli.common import PROGRESS_EVERY, err, settings_or_exit
from jobs.enrich.page import extract_main_text, fetch_article_text
from jobs.enrich.summarize import summarize
from jobs.i18n import t
from jobs.ingest.fetch import make_client, redact_url

log = logging.getLogger("bantin.cli")

SUMMARIZE_WINDOW = 8  # url items fetched at once; output stays in input order
MAX_CHARS_RANGE = (20, 10_000)


class _Progress:
    """Progress on stderr every PROGRESS_EVERY seconds; silent for inputs done before that."""

    def __init__(self, line_key: str) -> None:
        self.started = time.monotonic()
        self.last = self.started
        self.count = 0
        self.errors = 0
        self.shown = False
        self._key = line_key

    def tick(self, error: bool = False) -> None:
        self.count += 1
        self.errors += error
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY:
            self.last = now
            self.shown = True
            rate = self.count / max(now - self.started, 1e-9)
            err(t(self._key, count=self.count, rate=rate, errors=self.errors))


def summarize_cmd(
    max_chars: Annotated[
        int | None,
        typer.Option("--max-chars", help="Longest summary (default: BANTIN_SUMMARY_CHARS, 400)"),
    ] = None,
) -> None:
    """Summarize JSON Lines from stdin and write them back to stdout with "summary" added.

    Each line is an object with "title" and "body" (plain text, one paragraph or sentence per
    line), or "html" (the main text is extracted), or "url" (the page is fetched from that host
    only, then extracted); "sapo" is optional. A line that cannot be summarized gets an "error"
    field instead. Output keeps the input order; no database is needed.
    """
    settings = settings_or_exit()
    limit = settings.summary_chars if max_chars is None else max_chars
    low, high = MAX_CHARS_RANGE
    if not low <= limit <= high:
        err(t("cli_summarize_max_chars", low=low, high=high))
        raise typer.Exit(2)
    progress = _Progress("cli_summarize_progress")
    asyncio.run(_summarize_stream(sys.stdin.buffer, limit, progress))
    if progress.shown:
        seconds = time.monotonic() - progress.started
        err(t("cli_summarize_done", count=progress.count, errors=progress.errors, seconds=seconds))


def _write_line(data: dict[str, Any]) -> None:
    line = json.dumps(data, ensure_ascii=False) + "\n"
    out = getattr(sys.stdout, "buffer", None)
    if out is not None:
        out.write(line.encode("utf-8"))
    else:
        sys.stdout.write(line)


async def _summarize_stream(stdin: IO[bytes], max_chars: int, progress: _Progress) -> None:
    """Read, summarize and write line by line; url items are fetched a few at a time.

    Items are finished in input order: plain ones at once, url ones as asyncio tasks kept in a
    window of SUMMARIZE_WINDOW, and a finished head of the queue is written as soon as it is done.
    While fetches are in flight, stdin is read in a thread so they keep going.
    """
    pending: deque[asyncio.Future[dict[str, Any]]] = deque()
    client: httpx.AsyncClient | None = None
    interactive = sys.stdin.isatty()

    def flush() -> None:
        while pending and pending[0].done():
            result = pending.popleft().result()
            _write_line(result)
            progress.tick(error="error" in result)
        if interactive:
            sys.stdout.flush()

    try:
        lineno = 0
        while True:
            if pending:
                raw = await asyncio.to_thread(stdin.readline)
            else:
                raw = stdin.readline()
            if not raw:
                break
            lineno += 1
            item = _parse_item(raw, lineno)
            if item is None:
                continue
            text = "" if "error" in item else _text_field(item)
            url = item.get("url")
            if not text and "error" not in item and isinstance(url, str) and url.strip():
                if client is None:
                    client = make_client()
                pending.append(
                    asyncio.ensure_future(_summarize_url(client, item, url.strip(), max_chars))
                )
            else:
                ready = asyncio.get_running_loop().create_future()
                ready.set_result(_guarded(_summarize_item, item, max_chars, text))
                pending.append(ready)
            if len(pending) >= SUMMARIZE_WINDOW:
                await asyncio.wait([pending[0]])
            flush()
        while pending:
            await asyncio.wait([pending[0]])
            flush()
    finally:
        for task in pending:
            task.cancel()
        if client is not None:
            await client.aclose()
        sys.stdout.flush()


def _parse_item(raw: bytes, lineno: int) -> dict[str, Any] | None:
    """One input line as an object, or {"line": n, "error": why}; None for a blank line."""
    text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"line": lineno, "error": t("cli_summarize_bad_json", line=lineno, error=exc.msg)}
    if not isinstance(data, dict):
        return {"line": lineno, "error": t("cli_summarize_not_object", line=lineno)}
    return data


def _text_field(item: dict[str, Any]) -> str:
    """The plain body (a string, or a list of paragraphs), else the main text of "html"."""
    body = item.get("body")
    if isinstance(body, list):
        body = "\n".join(str(p) for p in body if p)
    if isinstance(body, str) and body.strip():
        return body
    html = item.get("html")
    if isinstance(html, str) and html.strip():
        base = item.get("url")
        text = extract_main_text(html, base if isinstance(base, str) else "")
        return text or " "  # " ": html given but nothing in it
    return ""


def _guarded(
    fn: Callable[[dict[str, Any], int, str], dict[str, Any]],
    item: dict[str, Any],
    max_chars: int,
    text: str,
) -> dict[str, Any]:
    """One odd item must not end a long run: its error goes into its own output line."""
    try:
        return fn(item, max_chars, text)
    except Exception as exc:
        log.exception("summarize failed")
        return {**item, "error": t("cli_fatal", error=type(exc).__name__)}


def _summarize_item(item: dict[str, Any], max_chars: int, text: str) -> dict[str, Any]:
    """``item`` with "summary" added, or with "error" when ``text`` holds nothing."""
    if "error" in item:
        return item
    if not text.strip():
        error = "cli_summarize_no_main_text" if text else "cli_summarize_no_text"
        return {**item, "error": t(error)}
    title = item.get("title") if isinstance(item.get("title"), str) else ""
    sapo = item.get("sapo") if isinstance(item.get("sapo"), str) else None
    return {**item, "summary": summarize(title or "", text, sapo=sapo, max_chars=max_chars)}


async def _summarize_url(
    client: httpx.AsyncClient, item: dict[str, Any], url: str, max_chars: int
) -> dict[str, Any]:
    """Fetch with the URL's own host as the "feed" host: nothing else is trusted."""
    text = await fetch_article_text(client, url, feed_url=url)
    if not text:
        return {**item, "error": t("cli_summarize_fetch_failed", url=redact_url(url))}
    return await asyncio.to_thread(_guarded, _summarize_item, item, max_chars, text)

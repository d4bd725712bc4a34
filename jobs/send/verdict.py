"""What becomes of an outbox row whose send failed: a pure decision the deliverer carries out.

Every error an adapter raises is one of the jobs.channel error types; which of them is worth
another try, which ends the row and which ends the subscription is policy, and policy is easier
to read (and to test, one row per case) as a function of the error than as an `except` chain
interleaved with database writes. The deliverer only performs what the verdict says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobs.channel import ChannelError, ChatMoved, RateLimited, RecipientGone, Rejected
from jobs.send.retry import MAX_ATTEMPTS, backoff, exhausted
from storage.deliveries import OWED_KINDS
from storage.kinds import RejectReason
from storage.records import Subscriber

NO_CHANNEL_DELAY = timedelta(minutes=5)


@dataclass(frozen=True)
class Retry:
    """Send again at `at`. `counted`: the attempt counts toward the dead-letter limit (a 429 or
    a missing channel is nobody's failure, so it does not). `retry_after` is set for a 429: the
    pause the platform asked for, which the pacer applies to `scope` ('chat' or 'global', as
    the platform hinted)."""

    at: datetime
    error: str
    counted: bool = True
    retry_after: float | None = None
    scope: str | None = None


@dataclass(frozen=True)
class Dead:
    """Never send this row again. `refused`: the platform refused the message itself, rather
    than the row running out of attempts."""

    reason: str
    refused: bool = False


@dataclass(frozen=True)
class Blocked:
    """The recipient is gone for good (blocked the bot, chat deleted): end the subscription."""

    reason: str


@dataclass(frozen=True)
class Cancel:
    """Drop the row without blaming anyone (an inactive subscriber, a closed messaging
    window)."""

    reason: str
    window: bool = field(default=False, compare=False)  # Zalo OA: owed notices are held


@dataclass(frozen=True)
class Moved:
    """The chat has a new id (a group became a supergroup): same subscriber, send there."""

    new_id: str


@dataclass(frozen=True)
class Plain:
    """The platform could not parse our markup: send the same words once more without tags."""

    reason: str


Verdict = Retry | Dead | Blocked | Cancel | Moved | Plain


def verdict(
    error: ChannelError,
    attempts: int,
    *,
    now: datetime,
    fallback_used: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
    delay: Callable[[int], float] = backoff,
) -> Verdict:
    """The verdict on a send that raised `error`; `attempts` is how many the row had already
    used, `fallback_used` whether this send was already the plain-text fallback, `delay` the
    seconds before retry number n (jobs.send.retry.backoff)."""
    if isinstance(error, RateLimited):
        return Retry(
            now + timedelta(seconds=error.retry_after),
            error.description,
            counted=False,
            retry_after=error.retry_after,
            scope=error.scope,
        )
    if isinstance(error, RecipientGone):
        return Blocked(error.description)
    if isinstance(error, ChatMoved):
        return Moved(error.new_chat_id)
    if isinstance(error, Rejected):
        if error.reason == RejectReason.WINDOW:
            # Outside the platform's messaging window (Zalo OA: 7 days since the citizen last
            # wrote): not a failure to retry, and not the citizen's fault.
            return Cancel(error.description, window=True)
        if error.reason == RejectReason.PARSE and not fallback_used:
            return Plain(error.description)
        return Dead(error.description, refused=True)
    # Transient trouble, or an error type with no policy of its own: try again later.
    return retry_or_dead(
        error.description, attempts, now=now, max_attempts=max_attempts, delay=delay
    )


def retry_or_dead(
    error: str,
    attempts: int,
    *,
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
    delay: Callable[[int], float] = backoff,
) -> Retry | Dead:
    """Back off exponentially, or dead-letter once this attempt was the last one allowed."""
    attempt = attempts + 1
    if exhausted(attempt, max_attempts):
        return Dead(error)
    return Retry(now + timedelta(seconds=delay(attempt)), error)


def after_crash(attempts: int, *, now: datetime, delay: Callable[[int], float] = backoff) -> Retry:
    """A send that crashed inside our own code: back off and count the attempt; a crash
    alone never dead-letters the row (the next ordinary failure may)."""
    attempt = attempts + 1
    return Retry(now + timedelta(seconds=delay(attempt)), "internal error")


def no_channel(platform: str, *, now: datetime) -> Retry:
    """No channel runs for the subscriber's platform (configured off, or not started yet):
    look again in a while, without counting it against the row."""
    return Retry(now + NO_CHANNEL_DELAY, f"no channel for platform {platform}", counted=False)


def before_send(subscriber: Subscriber | None, kind: str) -> Cancel | None:
    """News stops when the subscription does; an owed reply (a staff answer) goes out anyway,
    so staff never believe a citizen was answered when the reply was dropped."""
    if subscriber is None or not (subscriber.active or kind in OWED_KINDS):
        return Cancel("recipient inactive")
    return None

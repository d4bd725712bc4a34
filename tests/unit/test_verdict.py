"""The deliverer's policy, one row per case: what becomes of a row whose send raised an error.

The errors are raised by the in-memory FakeChannel, exactly as an adapter raises them, and the
verdict is computed from what was caught.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jobs.channel import (
    ChannelError,
    ChatMoved,
    Fatal,
    OutMessage,
    RateLimited,
    RecipientGone,
    Rejected,
    Transient,
)
from jobs.send.retry import MAX_ATTEMPTS, backoff
from jobs.send.verdict import (
    NO_CHANNEL_DELAY,
    Blocked,
    Cancel,
    Dead,
    Moved,
    Plain,
    Retry,
    Verdict,
    after_crash,
    before_send,
    no_channel,
    retry_or_dead,
    verdict,
)
from storage.kinds import OutboxKind, RejectReason
from storage.records import Subscriber
from tests.fakes.channel import FakeChannel

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
SEED = 14


def backed_off(attempt: int, error: str) -> Retry:
    """The retry a transient failure of attempt number `attempt` earns (jitter seeded)."""
    return Retry(NOW + timedelta(seconds=seeded(attempt)), error)


def seeded(attempt: int) -> float:
    """The backoff with its jitter drawn from a fixed seed: the same on every call."""
    return backoff(attempt, rnd=random.Random(SEED))


async def caught(error: ChannelError) -> ChannelError:
    """Send through a FakeChannel told to fail with `error`; return what the send raised."""
    channel = FakeChannel()
    channel.fail_next(error)
    with pytest.raises(ChannelError) as raised:
        await channel.send("42", OutMessage(text="Tin mới"))
    assert not channel.sent and len(channel.attempts) == 1
    return raised.value


LAST = MAX_ATTEMPTS - 1  # attempts already used before the last allowed one

# (case, error, attempts already used, this send was the plain-text fallback, expected)
CASES: list[tuple[str, ChannelError, int, bool, Verdict]] = [
    (
        "429 for every chat: wait as asked, not counted",
        RateLimited("Too Many Requests: retry after 3", 3.0, scope="global"),
        0,
        False,
        Retry(
            NOW + timedelta(seconds=3),
            "Too Many Requests: retry after 3",
            counted=False,
            retry_after=3.0,
            scope="global",
        ),
    ),
    (
        "429 for one chat keeps its scope",
        RateLimited("Too Many Requests: retry after 7", 7.5, scope="chat"),
        2,
        False,
        Retry(
            NOW + timedelta(seconds=7.5),
            "Too Many Requests: retry after 7",
            counted=False,
            retry_after=7.5,
            scope="chat",
        ),
    ),
    (
        "429 on the last attempt is still no failure",
        RateLimited("Too Many Requests", 1.0),
        LAST,
        False,
        Retry(
            NOW + timedelta(seconds=1),
            "Too Many Requests",
            counted=False,
            retry_after=1.0,
            scope="global",
        ),
    ),
    (
        "recipient gone: blocked",
        RecipientGone("Forbidden: bot was blocked by the user"),
        0,
        False,
        Blocked("Forbidden: bot was blocked by the user"),
    ),
    (
        "chat moved: send to its new id",
        ChatMoved("group migrated to supergroup", "-1001234567890"),
        0,
        False,
        Moved("-1001234567890"),
    ),
    (
        "outside the messaging window: cancelled, not retried",
        Rejected("outside the 7-day window", RejectReason.WINDOW),
        0,
        False,
        Cancel("outside the 7-day window"),
    ),
    (
        "markup refused: once more as plain text",
        Rejected("can't parse entities", RejectReason.PARSE),
        0,
        False,
        Plain("can't parse entities"),
    ),
    (
        "plain text refused as well: dead",
        Rejected("can't parse entities", RejectReason.PARSE),
        0,
        True,
        Dead("can't parse entities", refused=True),
    ),
    (
        "too long even after splitting finer: dead",
        Rejected("message is too long", RejectReason.TOO_LONG),
        0,
        False,
        Dead("message is too long", refused=True),
    ),
    (
        "any other refusal: dead at once",
        Rejected("Bad Request: wrong file identifier", RejectReason.OTHER),
        0,
        False,
        Dead("Bad Request: wrong file identifier", refused=True),
    ),
    (
        "transient, first attempt: back off",
        Transient("502 Bad Gateway"),
        0,
        False,
        backed_off(1, "502 Bad Gateway"),
    ),
    (
        "transient with attempts left: back off longer",
        Transient("timed out"),
        LAST - 1,
        False,
        backed_off(LAST, "timed out"),
    ),
    (
        "transient on the last attempt: dead-lettered",
        Transient("timed out"),
        LAST,
        False,
        Dead("timed out"),
    ),
    (
        "a misconfigured channel is retried like trouble",
        Fatal("Unauthorized"),
        0,
        False,
        backed_off(1, "Unauthorized"),
    ),
    (
        "an error with no type of its own is retried",
        ChannelError("something odd"),
        3,
        False,
        backed_off(4, "something odd"),
    ),
]


@pytest.mark.parametrize(
    ("error", "attempts", "fallback_used", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_verdict(
    error: ChannelError, attempts: int, fallback_used: bool, expected: Verdict
) -> None:
    raised = await caught(error)
    got = verdict(raised, attempts, now=NOW, fallback_used=fallback_used, delay=seeded)
    assert got == expected


def test_a_lower_attempt_limit_dead_letters_sooner() -> None:
    got = verdict(Transient("timed out"), 0, now=NOW, max_attempts=1)
    assert got == Dead("timed out")


def test_backoff_grows_within_its_jitter() -> None:
    for attempt, base in [(1, 2.0), (2, 4.0), (3, 8.0)]:
        got = retry_or_dead("x", attempt - 1, now=NOW)
        assert isinstance(got, Retry) and got.counted
        assert timedelta(seconds=base * 0.75) <= got.at - NOW <= timedelta(seconds=base * 1.25)


def test_too_many_redirections_is_retried_then_dead() -> None:
    assert retry_or_dead("too many redirections", 0, now=NOW, delay=seeded) == (
        backed_off(1, "too many redirections")
    )
    assert retry_or_dead("too many redirections", LAST, now=NOW) == Dead("too many redirections")


def test_a_crash_backs_off_and_counts_but_never_dead_letters() -> None:
    assert after_crash(0, now=NOW, delay=seeded) == backed_off(1, "internal error")
    late = after_crash(MAX_ATTEMPTS * 2, now=NOW)
    assert isinstance(late, Retry) and late.counted


def test_no_channel_looks_again_later_without_counting() -> None:
    assert no_channel("zalo", now=NOW) == Retry(
        NOW + NO_CHANNEL_DELAY, "no channel for platform zalo", counted=False
    )


SUBSCRIBER = Subscriber(
    id=1,
    platform="telegram",
    chat_id="42",
    chat_type="private",
    display_name="Lan",
    language="vi",
    active=True,
    dialog_state=None,
    dialog_ref=None,
    created_at=NOW,
)
GONE = replace(SUBSCRIBER, active=False)
INACTIVE = Cancel("recipient inactive")


@pytest.mark.parametrize(
    ("subscriber", "kind", "expected"),
    [
        (SUBSCRIBER, OutboxKind.ARTICLE, None),
        (SUBSCRIBER, OutboxKind.ANSWER, None),
        (GONE, OutboxKind.ARTICLE, INACTIVE),
        (GONE, OutboxKind.DIGEST, INACTIVE),
        (GONE, OutboxKind.ANNOUNCEMENT, INACTIVE),
        (GONE, OutboxKind.ANSWER, None),  # an owed reply goes out to an unsubscribed citizen
        (None, OutboxKind.ANSWER, INACTIVE),  # nobody to send it to
        (None, OutboxKind.ARTICLE, INACTIVE),
    ],
    ids=[
        "active-article",
        "active-answer",
        "inactive-article",
        "inactive-digest",
        "inactive-announcement",
        "inactive-answer-is-owed",
        "missing-answer",
        "missing-article",
    ],
)
def test_before_send(subscriber: Subscriber | None, kind: str, expected: Cancel | None) -> None:
    assert before_send(subscriber, kind) == expected

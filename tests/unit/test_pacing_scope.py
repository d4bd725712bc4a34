"""Whether a 429 pauses one chat or everyone (Pacer.rate_limited), in virtual time."""

from __future__ import annotations

from jobs.send.pacing import FLOOD_WINDOW, Pacer


def test_a_group_429_pauses_only_that_group() -> None:
    pacer = Pacer(30)
    assert pacer.rate_limited("tg:-100", "supergroup", 40, 10.0, started=9.9) == "chat"
    assert pacer.chat_ready_at("tg:-100", 10.0) == 50.0
    assert pacer.global_delay(10.0) < 1  # everyone else goes on
    assert pacer.chat_ready_at("tg:1", 10.0) == 10.0


def test_a_private_429_pauses_everyone_unless_later_sends_succeeded() -> None:
    pacer = Pacer(30)
    assert pacer.rate_limited("tg:1", "private", 5, 10.0, started=9.9) == "global"
    assert pacer.global_delay(10.0) == 5.0
    assert pacer.chat_ready_at("tg:1", 10.0) == 15.0

    pacer = Pacer(30)
    pacer.succeeded("tg:2", 9.8)  # before our send: says nothing about the moment it arrived
    pacer.succeeded("tg:3", 9.95)
    assert pacer.rate_limited("tg:1", "private", 5, 10.0, started=9.9) == "global"

    pacer = Pacer(30)
    pacer.succeeded("tg:2", 9.92)  # two later sends to other chats went through
    pacer.succeeded("tg:3", 9.95)
    pacer.succeeded("tg:1", 9.96)  # the chat itself does not count
    assert pacer.rate_limited("tg:1", "private", 5, 10.0, started=9.9) == "chat"
    assert pacer.global_delay(10.0) < 1
    assert pacer.chat_ready_at("tg:1", 10.0) == 15.0


def test_429s_for_two_chats_at_once_are_a_flood() -> None:
    pacer = Pacer(30)
    assert pacer.rate_limited("tg:-100", "group", 3, 10.0) == "chat"
    assert pacer.rate_limited("tg:-200", "channel", 3, 10.5) == "global"
    assert pacer.global_delay(10.5) == 3.0
    # While the global pause runs, any 429 extends it for everyone.
    assert pacer.rate_limited("tg:-300", "group", 4, 11.0) == "global"
    assert pacer.global_delay(11.0) == 4.0


def test_the_same_group_again_or_much_later_is_not_a_flood() -> None:
    pacer = Pacer(30)
    assert pacer.rate_limited("tg:-100", "group", 1, 10.0) == "chat"
    assert pacer.rate_limited("tg:-100", "group", 1, 11.0) == "chat"
    later = 11.0 + FLOOD_WINDOW + 0.1
    assert pacer.rate_limited("tg:-200", "group", 1, later) == "chat"


def test_the_adapter_knows_best_when_it_says_chat() -> None:
    pacer = Pacer(None)
    assert pacer.rate_limited("zalo:1", "private", 3600, 0.0, scope="chat") == "chat"
    assert pacer.global_delay(0.0) == 0
    assert pacer.chat_ready_at("zalo:1", 0.0) == 3600

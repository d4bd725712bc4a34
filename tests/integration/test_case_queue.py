"""The console's case queue (storage/case_queue.py) on SQLite and PostgreSQL: each filter,
diacritic-free search and codes, keyset pages that neither skip nor repeat a case (also when
new cases arrive between pages), and an editor seeing only their units' cases."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from storage.case_queue import DUE, QueueFilter, search_words
from storage.feedback import CaseIntake, RateLimit
from storage.kinds import OPEN_STATES, TicketState
from storage.staff import ADMIN, EDITOR
from storage.store import Store

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
LIMIT = RateLimit(count=10_000, seconds=1)


async def _case(
    store: Store,
    sub_id: int,
    text: str,
    *,
    unit_id: int | None = None,
    category_id: int | None = None,
    due_at: datetime | None = None,
    at: datetime = NOW,
) -> int:
    filed = await store.feedback.file(
        sub_id,
        None,
        text,
        limit=LIMIT,
        now=at,
        intake=CaseIntake(category_id=category_id, unit_id=unit_id, due_at=due_at),
    )
    assert not hasattr(filed, "reason"), filed
    return filed.id  # type: ignore[union-attr]


async def _ids(store: Store, flt: QueueFilter, **kw: object) -> list[int]:
    page = await store.case_queue.page(flt, now=NOW, limit=100, **kw)  # type: ignore[arg-type]
    return [r.case.id for r in page.rows]


async def test_filters_search_and_codes(any_store: Store) -> None:
    store = any_store
    sub, _ = await store.subscribers.subscribe("telegram", "1", display_name="Chị Lan")
    roads = await store.units.add("Phòng Giao thông")
    assert roads is not None
    cat = await store.units.add_category("Đường sá", unit_id=roads.id, deadline_days=5)
    assert cat is not None
    a = await _case(
        store,
        sub.id,
        "Đường Lê Lợi có ổ gà lớn",
        category_id=cat.id,
        due_at=NOW - timedelta(days=1),
        at=NOW - timedelta(days=3),
    )
    b = await _case(
        store,
        sub.id,
        "Đèn đường tắt cả tuần",
        due_at=NOW + timedelta(days=2),
        at=NOW - timedelta(days=2),
    )
    c = await _case(
        store,
        sub.id,
        "ĐƯỜNG NGẬP NƯỚC sau mưa",
        unit_id=roads.id,
        due_at=NOW - timedelta(hours=1),
        at=NOW - timedelta(days=1),
    )
    d = await _case(store, sub.id, "Tiếng ồn karaoke <script>x</script>", at=NOW)
    await store.cases.take(c, actor="telegram:7", now=NOW)
    await store.cases.close(b, actor="telegram:7", now=NOW)

    everything = await _ids(store, QueueFilter())
    assert everything == [d, c, b, a], "newest first"
    page = await store.case_queue.page(QueueFilter(), now=NOW)
    assert page.total == 4 and page.next_cursor is None
    assert page.rows[0].citizen == "Chị Lan" and page.rows[0].platform == "telegram"

    assert await _ids(store, QueueFilter(states=frozenset({TicketState.CLOSED}))) == [b]
    assert await _ids(store, QueueFilter(states=OPEN_STATES)) == [d, c, a]
    assert await _ids(store, QueueFilter(unit_id=roads.id)) == [c, a]
    assert await _ids(store, QueueFilter(category_id=cat.id)) == [a]
    overdue = QueueFilter(overdue=True)
    assert await _ids(store, overdue) == [c, a], "open and past due (b is closed)"
    assert (await store.case_queue.page(overdue, now=NOW)).overdue_ids == {a, c}
    assert await _ids(store, QueueFilter(overdue=True, states=OPEN_STATES)) == [c, a]
    closed_late = QueueFilter(overdue=True, states=frozenset({TicketState.CLOSED}))
    assert await _ids(store, closed_late) == [], "a closed case is never overdue"
    assert await _ids(store, QueueFilter(assignee="telegram:7")) == [c]
    window = QueueFilter(since=NOW - timedelta(days=2, hours=1), until=NOW - timedelta(hours=2))
    assert await _ids(store, window) == [c, b]

    # diacritics optional, any case, words in any order, prefixes of words
    assert await _ids(store, QueueFilter(words=search_words("duong"))) == [c, b, a]
    assert await _ids(store, QueueFilter(words=search_words("ĐƯỜNG ngập"))) == [c]
    assert await _ids(store, QueueFilter(words=search_words("ngap duong"))) == [c]
    assert await _ids(store, QueueFilter(words=search_words("o ga"))) == [a]
    assert await _ids(store, QueueFilter(words=search_words("karao"))) == [d]
    assert await _ids(store, QueueFilter(words=search_words("ương"))) == []
    assert await _ids(store, QueueFilter(words=search_words("script"))) == [d]
    assert await _ids(store, QueueFilter(words=search_words("%"))) == everything
    assert await _ids(store, QueueFilter(case_id=b)) == [b]
    assert await _ids(store, QueueFilter(words=search_words("karaoke"), case_id=a)) == []
    combined = QueueFilter(words=search_words("duong"), states=OPEN_STATES, unit_id=roads.id)
    assert await _ids(store, combined) == [c, a]


async def test_keyset_pages_neither_skip_nor_repeat(any_store: Store) -> None:
    store = any_store
    sub, _ = await store.subscribers.subscribe("telegram", "2")
    made = [
        await _case(
            store,
            sub.id,
            f"phản ánh số {i}",
            due_at=None if i % 4 == 0 else NOW + timedelta(hours=i % 5),
            at=NOW - timedelta(minutes=100 - i),
        )
        for i in range(23)
    ]
    for sort, expected in (
        ("newest", sorted(made, reverse=True)),
        (DUE, None),
    ):
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            page = await store.case_queue.page(
                QueueFilter(sort=sort), now=NOW, cursor=cursor, limit=5
            )
            seen += [r.case.id for r in page.rows]
            pages += 1
            if sort == "newest" and pages == 2:  # a case filed while paging: no shift
                await _case(store, sub.id, "mới đến", at=NOW)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)), "no case twice"
        if expected is not None:
            assert seen == expected
        else:
            cases = {c.id: c for c in [await store.cases.get(i) for i in seen] if c}
            keys = [(cases[i].due_at is None, cases[i].due_at or NOW, i) for i in seen]
            assert keys == sorted(keys), "soonest due first, then by number, undated last"
            assert set(made) <= set(seen)
    garbage = await store.case_queue.page(QueueFilter(), now=NOW, cursor="x' OR 1=1", limit=5)
    assert len(garbage.rows) == 5, "a cursor that is not ours is the first page"


async def test_an_editor_sees_only_their_units(any_store: Store) -> None:
    store = any_store
    sub, _ = await store.subscribers.subscribe("telegram", "3")
    mine = await store.units.add("Phòng Tài nguyên")
    theirs = await store.units.add("Phòng Y tế")
    assert mine and theirs
    await store.staff.ensure("telegram", "50", role=EDITOR, added_by="test")
    await store.staff.ensure("telegram", "51", role=EDITOR, added_by="test")
    await store.staff.ensure("telegram", "52", role=ADMIN, added_by="test")
    assert await store.units.add_member(mine.id, "telegram", "50") == "added"
    assert await store.units.add_member(theirs.id, "telegram", "51") == "added"
    in_mine = await _case(store, sub.id, "rác thải", unit_id=mine.id)
    in_theirs = await _case(store, sub.id, "tiêm chủng", unit_id=theirs.id)
    in_default = await _case(store, sub.id, "hỏi thủ tục")  # the default unit: no members

    assert await _ids(store, QueueFilter(), viewer=("telegram", "50")) == [in_default, in_mine]
    assert await _ids(store, QueueFilter(), viewer=("telegram", "52")) == [
        in_default,
        in_theirs,
        in_mine,
    ]
    peek = QueueFilter(unit_id=theirs.id)
    assert await _ids(store, peek, viewer=("telegram", "50")) == []
    assert await _ids(store, QueueFilter(), viewer=("telegram", "404")) == []


async def test_the_database_folds_as_python_does(any_store: Store) -> None:
    """PostgreSQL's bantin_fold (migration 0018) and SQLite's registered function give the
    words Python's fold gives, so a query folded in Python finds what the index holds."""
    from sqlalchemy import text

    from storage.case_queue import _register_fold, fold

    samples = [
        "Đường Lê Lợi <b>ổ gà</b> ĐƯỜNG NGẬP, x@y.vn; «Ưu tiên» it's 3.5km",
        "Phường Nghĩa Đô — cống thoát nước bị tắc/ứ đọng",
        "Ỷ Lan, Ễnh ương, Ợ hơi, ỦY BAN NHÂN DÂN",
        "e\u0301 decomposed a\u0300 marks",
    ]
    async with any_store.case_queue._tx() as s:  # the function itself is the subject
        if any_store.engine.dialect.name == "sqlite":
            await _register_fold(s)
        for sample in samples:
            got = (await s.execute(text("SELECT bantin_fold(:v)"), {"v": sample})).scalar_one()
            # the text parser splits at anything not a letter or digit («, — included)
            assert re.findall("[a-z0-9]+", got) == fold(sample).split(), sample

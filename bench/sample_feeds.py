"""Sample feeds like a district portal's, for bench/poll.py and the tests that parse them.

Standard library only, on purpose: bench/poll.py imports this, and parse workers import the
main module they were started from, so anything heavy here would be counted as the workers'
memory and start-up CPU.
"""

from __future__ import annotations

import html
import random

WORDS = (
    "Ủy ban nhân dân huyện Chiêm Hóa tổ chức hội nghị triển khai nhiệm vụ phát triển kinh tế "
    "xã hội năm 2026 Công an tỉnh Tuyên Quang bảo đảm an ninh trật tự người dân doanh nghiệp "
    "đầu tư xây dựng nông thôn mới giáo dục y tế cải cách hành chính chuyển đổi số cán bộ "
    "đảng viên Mặt trận Tổ quốc thôn bản đồng bào dân tộc thiểu số giảm nghèo bền vững"
).split()
ITEMS = 20


def _sentence(rnd: random.Random, n: int) -> str:
    text = " ".join(rnd.choice(WORDS) for _ in range(n))
    return text[0].upper() + text[1:] + "."


def make_feed(i: int) -> bytes:
    """A deterministic ~16 KB RSS feed of 20 items, like a district portal's."""
    rnd = random.Random(i)
    items = []
    for j in range(ITEMS):
        body = "".join(
            f"<p>{' '.join(_sentence(rnd, rnd.randint(14, 24)) for _ in range(2))}</p>"
            for _ in range(2)
        )
        items.append(
            "<item>"
            f"<title>{html.escape(_sentence(rnd, 12)[:-1])}</title>"
            f"<link>https://portal-{i}.gov.vn/tin-tuc/bai-{j}.html</link>"
            f'<guid isPermaLink="false">portal-{i}-bai-{j}</guid>'
            f"<pubDate>{1 + j % 28:02d} Nov 2026 08:{j:02d}:00 +0700</pubDate>"
            f"<description>{html.escape(body, quote=False)}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Cổng TTĐT số {i}</title><link>https://portal-{i}.gov.vn/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()

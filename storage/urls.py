"""What of a feed's address a person may see.

Some portals put a feed behind HTTP basic auth, and the operator adds it as
`https://user:password@host/rss`. The full address stays in `feeds.url`, for the fetcher
alone; every place that shows a feed to a person (citizens' source buttons and deep links,
staff's audience picker, the audit log, `bantin feeds list`, OPML export) shows `shown_url`:
the same address without `user:password@`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

INVALID = "(invalid address)"
# scheme://userinfo@ anywhere in a text (audit details, messages quoting an address)
_USERINFO_IN_TEXT = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def shown_url(url: str) -> str:
    """`url` without its userinfo (`user:password@`); unchanged when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return INVALID if "@" in url else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def without_userinfo(text: str) -> str:
    """`text` with the userinfo of every address in it removed (free text, not one URL)."""
    return _USERINFO_IN_TEXT.sub(r"\1", text)

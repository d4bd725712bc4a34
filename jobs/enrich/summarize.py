"""Title-guided extractive summaries of Vietnamese news articles. Pure functions, no I/O.

Why extractive and title-guided: a push message must never say something the article did not,
and on a news page the headline is the editor's own statement of what matters. Sentences are
scored by how much of the title they carry (whole syllables and syllable pairs, function words
ignored) plus how much of the article's recurring vocabulary they hold (the gist is what the
article keeps talking about), mildly favoured when early (news puts the gist first), mildly
braked when long (a push message is read on a phone); lines too short to be sentences (captions,
headings) never compete. One sentence is the default: on the VNDS bench a second one raised
ROUGE-1 a little but lowered ROUGE-L by about a point, and reads worse on a phone. A real sapo
(the lead paragraph a feed supplies) beats any extraction: an editor wrote it to be the summary.

Portal pages interleave photo captions as one-line paragraphs and end with chrome ("./.",
"Gửi phản hồi", "In bài", bylines): none of it may end up in a summary, so it is removed before
scoring. Tuned and measured with bench/summary_quality.py on the VNDS dev set (weights chosen on
one half, checked on the other; figures in that file's docstring).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from itertools import pairwise

from jobs.enrich.sentences import split_paragraphs, split_sentences

ELLIPSIS = "…"

_SYLLABLE = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?…][”\"’'»)\]]*$")
_TRUNCATED = re.compile(r"(?:\.{3}|…|\[\s*(?:…|\.{3})\s*\])\s*$")

# Function syllables that carry no topic: matching them against the title would only reward long
# sentences. Hand-written from Vietnamese grammar, not fitted to any corpus.
STOPWORDS = frozenset(
    """
    và cho của trong được có đã các là với một theo không tại này để khi đó ra trên về từ đến
    vào ở việc sau cũng bị những sẽ đang như do qua chỉ lại phải hơn nhưng cùng còn đây nay mới
    vì rằng cả mà thì nên rất hay hoặc nếu vẫn đều chưa luôn ai gì nào bao nhiêu đâu sao ấy kia
    nhé ạ à ơi thế vậy lúc nơi người ông bà anh chị em họ chúng tôi ta mình nó hai ba bốn năm
    sáu bảy tám chín mười trăm nghìn ngàn triệu tỷ nhiều ít mỗi từng cái chiếc con những
    """.split()
)

# Whole-line page chrome of Vietnamese portals and newspapers (compared casefolded, without
# trailing punctuation).
_CHROME_LINE = re.compile(
    r"^(?:gửi phản hồi|phản hồi|in bài(?: viết)?|in trang|bản in|chia sẻ(?: bài viết)?|"
    r"chia sẻ qua.*|lưu bài|gửi email|gửi bài viết|quay lại|về đầu trang|đầu trang|xem thêm|"
    r"đọc thêm|tin liên quan|bài liên quan|tin khác|các tin khác|tin cùng chuyên mục|"
    r"ý kiến bạn đọc|bình luận|lượt xem.*|số lượt xem.*|tags?\s*:.*|từ khóa\s*:.*|"
    r"nguồn\s*:.*|tác giả\s*:.*|\(?theo\s[^,;:]{1,40}\)?|ảnh\s*:.*|\(ảnh\s*:.*\)|"
    r"ảnh minh họa.*|video\s*:.*|pv|btv|ctv|tin, ảnh\s*:.*|bài, ảnh\s*:.*|\.?/\.?)$",
    re.IGNORECASE,
)
# Lines after which a page holds only lists of other articles.
_TAIL_MARKER = re.compile(
    r"^(?:tin liên quan|bài liên quan|tin khác|các tin khác|tin cùng chuyên mục|xem thêm)\s*:?$",
    re.IGNORECASE,
)
# How photo captions open or what they say: "Toàn cảnh hội nghị...", "Các đại biểu dự...",
# "Đồng chí ... phát biểu tại...", "...chụp ảnh lưu niệm", "(Ảnh: ...)".
_CAPTION_CUE = re.compile(
    r"^(?:toàn cảnh|quang cảnh|một số hình ảnh|(?:các )?đại biểu (?:tham )?dự)\b|"
    r"\b(?:tại điểm cầu|chụp ảnh|ảnh lưu niệm|phát biểu (?:tại|chỉ đạo)|"
    r"trao (?:quà|tặng|giấy khen|bằng khen)|tặng hoa)\b|\(ảnh\b|\bảnh\s*:",
    re.IGNORECASE,
)

CAPTION_MAX_SYLLABLES = 22  # a caption is one short line; article sentences run ~30 syllables
HEADING_MAX_SYLLABLES = 20  # a short line without a final stop is a heading, byline or caption
MIN_SYLLABLES = 8  # shorter lines are headings, captions, bylines or datelines
TITLE_PAIR_WEIGHT = 1.0  # syllable pairs shared with the title ("bảo vệ", "hội nghị") count too
CENTRALITY_WEIGHT = 1.0  # how much recurring article vocabulary counts next to the title
LENGTH_EXPONENT = 0.2  # relevance / syllables ** this: a mild brake on long sentences
PRIOR = 0.01  # keeps a sentence sharing nothing with the title in the ranking (by position)
POSITION_DECAY = 0.95  # the i-th candidate sentence's score is multiplied by this ** i
SAPO_MAX_CHARS = 600  # a lead paragraph runs 150-400 characters; longer is the article itself
TARGET_SYLLABLES = 15  # below this the summary is too thin: the next best sentence joins it


@dataclass(frozen=True)
class _Candidate:
    index: int
    text: str
    tokens: list[str]
    words: frozenset[str]


def normalize(text: str) -> str:
    """NFC with whitespace collapsed; feeds mix NFD and NFC, and matching needs one form."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def syllables(text: str) -> list[str]:
    """Lowercased whole syllables of ``text``."""
    return _SYLLABLE.findall(text.lower())


def _key(text: str) -> str:
    return " ".join(syllables(text))


def is_chrome(line: str) -> bool:
    """Whether a whole line is page furniture: links, share buttons, photo credits, bylines."""
    return _CHROME_LINE.match(line.strip().rstrip(".:!").strip()) is not None


def is_caption(paragraph: str) -> bool:
    """Whether a one-line paragraph reads like a photo caption (or a heading), not article text.

    Captions are short and either say what a photo shows ("Toàn cảnh...", "...tại điểm cầu...")
    or, like headings and bylines, have no final stop.
    """
    n = len(syllables(paragraph))
    if n <= HEADING_MAX_SYLLABLES and not _SENTENCE_END.search(paragraph):
        return True
    if n > CAPTION_MAX_SYLLABLES or _CAPTION_CUE.search(paragraph) is None:
        return False
    return len(split_sentences(paragraph)) == 1


def content_paragraphs(body: str) -> list[str]:
    """Body paragraphs without chrome, captions and whatever follows the article's end."""
    kept: list[str] = []
    for paragraph in split_paragraphs(normalize_lines(body)):
        if _TAIL_MARKER.match(paragraph):
            break
        if is_chrome(paragraph) or is_caption(paragraph):
            continue
        kept.append(paragraph)
    return kept


def normalize_lines(text: str) -> str:
    """NFC, keeping line breaks (they separate paragraphs)."""
    return unicodedata.normalize("NFC", text)


def is_real_sapo(sapo: str | None, body: str, title: str) -> bool:
    """Whether a feed's lead paragraph is an editor's summary worth showing as is.

    Rejected: empty or too short, the title again (teaser feeds), a cut-off excerpt ending in
    "..." / "[…]", the body's first characters cut mid-sentence (CMS auto-excerpts), or the whole
    article (feeds that put the full text in <description>: several paragraphs, or too long).
    """
    if not sapo or "\n" in sapo.strip():
        return False
    sapo = normalize(sapo)
    if len(sapo) > SAPO_MAX_CHARS:
        return False
    sapo_key = _key(sapo)
    if len(sapo_key.split()) < MIN_SYLLABLES:
        return False
    title_key = _key(normalize(title))
    if title_key and (sapo_key == title_key or sapo_key in title_key):
        return False
    if _TRUNCATED.search(sapo):
        return False
    body_key = _key(normalize(body))
    return not (body_key.startswith(sapo_key) and not _SENTENCE_END.search(sapo))


def truncate(text: str, max_chars: int) -> str:
    """``text`` within ``max_chars``: whole sentences if any fit, else cut on a word with "…"."""
    if len(text) <= max_chars:
        return text
    kept = ""
    for sentence in split_sentences(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > max_chars:
            break
        kept = candidate
    if kept:
        return kept
    if max_chars <= len(ELLIPSIS):
        return text[:max_chars]
    cut = text[: max_chars - len(ELLIPSIS) + 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    else:
        cut = cut[: max_chars - len(ELLIPSIS)]
    return cut.rstrip(" ,;:-–—") + ELLIPSIS


def _candidates(body: str) -> list[_Candidate]:
    found: list[_Candidate] = []
    for paragraph in content_paragraphs(body):
        for sentence in split_sentences(paragraph):
            tokens = syllables(sentence)
            if len(tokens) < MIN_SYLLABLES:
                continue
            found.append(_Candidate(len(found), sentence, tokens, frozenset(tokens)))
    return found


def _pairs(tokens: list[str]) -> set[tuple[str, str]]:
    return set(pairwise(tokens))


def _scores(title: str, candidates: list[_Candidate]) -> list[float]:
    """One score per candidate: title coverage and centrality, braked by length and position."""
    title_tokens = syllables(title)
    title_words = {t for t in title_tokens if t not in STOPWORDS}
    title_pairs = _pairs(title_tokens)
    # In how many candidate sentences each syllable occurs: the article's recurring vocabulary.
    occurrences: dict[str, int] = {}
    for c in candidates:
        for t in c.words:
            occurrences[t] = occurrences.get(t, 0) + 1
    others = max(1, len(candidates) - 1)
    scores = []
    for c in candidates:
        n = len(c.tokens)
        title_cover = len(title_words & c.words) / len(title_words) if title_words else 0.0
        pair_cover = len(title_pairs & _pairs(c.tokens)) / len(title_pairs) if title_pairs else 0.0
        content = c.words - STOPWORDS
        centrality = (
            sum(occurrences[t] - 1 for t in content) / (others * len(content)) if content else 0.0
        )
        relevance = title_cover + TITLE_PAIR_WEIGHT * pair_cover + CENTRALITY_WEIGHT * centrality
        scores.append((relevance / n**LENGTH_EXPONENT + PRIOR) * POSITION_DECAY**c.index)
    return scores


def _extract(title: str, body: str, max_chars: int) -> str:
    candidates = _candidates(body)
    if not candidates:
        return ""
    scores = _scores(title, candidates)
    ranked = sorted(range(len(candidates)), key=lambda i: -scores[i])
    best = candidates[ranked[0]]
    chosen = [best]
    length = len(best.tokens)
    for i in ranked[1:]:
        if length >= TARGET_SYLLABLES:
            break
        other = candidates[i]
        text = " ".join(c.text for c in sorted([*chosen, other], key=lambda c: c.index))
        if len(text) <= max_chars:
            chosen.append(other)
            length += len(other.tokens)
        break
    chosen.sort(key=lambda c: c.index)
    return truncate(" ".join(c.text for c in chosen), max_chars)


def summarize(title: str, body: str, *, sapo: str | None = None, max_chars: int = 400) -> str:
    """A summary of at most ``max_chars`` characters, NFC, never empty when there is any text.

    ``body`` is plain text with paragraphs (or sentences) on separate lines. A real sapo wins
    (see ``is_real_sapo``); otherwise the sentences that best carry the title are extracted.
    Falls back to the title, then to the body's first words.
    """
    title = normalize(title)
    if sapo is not None and is_real_sapo(sapo, body, title):
        return truncate(normalize(sapo), max_chars)
    summary = _extract(title, body, max_chars)
    if summary:
        return summary
    for fallback in (title, normalize(body), normalize(sapo or "")):
        if fallback:
            return truncate(fallback, max_chars)
    return ""

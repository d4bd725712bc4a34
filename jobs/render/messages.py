"""What subscribers receive: articles, digests, announcements and staff answers.

Pure functions of a record, a language and the channel's capabilities; the deliverer renders
each outbox row with them and splits the result with `markup.split_message`.
"""

from __future__ import annotations

from dataclasses import replace

from jobs.channel import HTML, Button, Capabilities, OutMessage, PhotoUpload
from jobs.i18n import t
from jobs.render.callbacks import feedback_data
from jobs.render.markup import (
    escape,
    format_date,
    shorten,
    split_message,
    utf16_len,
    visible_length,
)
from jobs.render.staff_markup import staff_html, staff_plain
from storage.records import Announcement, AnswerContext, Article

TITLE_MAX = 300


def render_article(
    article: Article, lang: str, caps: Capabilities, *, feedback_button: bool = True
) -> OutMessage:
    """Title (bold, linked), source and date, the summary, and the feedback button."""
    title = shorten(article.title.strip() or "—", TITLE_MAX)
    meta = " · ".join(
        part
        for part in (article.feed_name, format_date(article.published_at or article.created_at))
        if part
    )
    summary = (article.summary or "").strip()
    buttons: tuple[tuple[Button, ...], ...] = ()
    if feedback_button and caps.buttons:
        buttons = ((Button(t("feedback_button", lang), feedback_data(article.id)),),)

    if caps.markup == HTML:
        head = f"<b>{escape(title)}</b>"
        if article.link:
            head = f'<b><a href="{escape(article.link)}">{escape(title)}</a></b>'
        lines = [head]
        if meta:
            lines.append(f"<i>{escape(meta)}</i>")
        fixed = "\n".join(lines)
        budget = caps.max_text - visible_length(fixed, HTML) - 2
        text = fixed + ("\n\n" + escape(shorten(summary, budget)) if summary else "")
    else:
        lines = [title]
        if meta:
            lines.append(meta)
        tail = f"\n{t('read_more', lang)}: {article.link}" if article.link else ""
        fixed = "\n".join(lines)
        budget = caps.max_text - utf16_len(fixed) - utf16_len(tail) - 2
        text = fixed + ("\n\n" + shorten(summary, budget) if summary else "") + tail
    return OutMessage(text=text, buttons=buttons, markup=caps.markup)


def render_article_for(
    article: Article, lang: str, caps: Capabilities, *, link_preview: bool = False
) -> OutMessage:
    """An article as one subscriber gets it: a photo with its caption (within the caption
    limit) when it has an image, else text; the link preview as they chose.

    The caption is a complete message on its own, so an adapter whose photo send fails can
    send the same text instead.
    """
    if article.image_url and caps.max_caption > 0 and caps.buttons:
        small = replace(caps, max_text=caps.max_caption)
        message = render_article(article, lang, small)
        return replace(message, photo_url=article.image_url)
    return replace(render_article(article, lang, caps), link_preview=link_preview)


def render_announcement(announcement: Announcement, lang: str, caps: Capabilities) -> OutMessage:
    """The announcement in full: the deliverer splits it at paragraphs if it is too long for
    one message (an announcement is never cut short)."""
    body = announcement.text.strip()
    if caps.markup == HTML:
        text = f"{t('announcement_header_html', lang)}\n\n{escape(body)}"
    else:
        text = f"{t('announcement_header', lang)}\n\n{body}"
    return OutMessage(text=text, markup=caps.markup)


def announcement_limit(caps: Capabilities) -> int:
    """The longest announcement text that fits one message with its header."""
    return caps.max_text - 40


MEDIA_PHOTO = "media:"  # announcements.photo_file_id of a photo uploaded in the web console


def render_staff_announcement(
    announcement: Announcement, lang: str, caps: Capabilities, upload: PhotoUpload | None = None
) -> OutMessage:
    """An announcement as recipients get it, staff formatting and photo included; a plain
    announcement (the one-line /broadcast, the CLI) renders exactly as render_announcement."""
    base = render_announcement(announcement, lang, caps)
    if announcement.text_format == "staff":
        body = announcement.text.strip()
        if caps.markup == HTML:
            text = f"{t('announcement_header_html', lang)}\n\n{staff_html(body)}"
        else:
            text = f"{t('announcement_header', lang)}\n\n{staff_plain(body)}"
        base = replace(base, text=text)
    if (announcement.photo_file_id or "").startswith(MEDIA_PHOTO):  # our stored copy
        return replace(base, photo_upload=upload)
    if announcement.photo_file_id:  # a file id of the platform the draft was written on
        origin = announcement.origin_platform or "unknown"
        base = replace(base, photo_url=announcement.photo_file_id, photo_platform=origin)
    return base


def render_answer(context: AnswerContext, lang: str, caps: Capabilities) -> OutMessage:
    """A staff answer as the citizen gets it: the case code, their words quoted, the answer."""
    quoted = shorten(" ".join(context.quoted.split()), 500)
    answer = context.answer.text.strip()
    ticket, code = context.ticket.id, context.ticket.shown_code
    if caps.markup == HTML:
        text = t(
            "cz_answer_html",
            lang,
            ticket=ticket,
            code=code,
            quoted=escape(quoted),
            answer=escape(answer),
        )
    else:
        key = "cz_answer_typed" if caps.menus else "cz_answer"
        text = t(key, lang, ticket=ticket, code=code, quoted=quoted, answer=answer)
    return OutMessage(text=text, markup=caps.markup)


DIGEST_ITEM_TITLE = 200


def render_digest(
    articles: list[Article], lang: str, caps: Capabilities, *, link_preview: bool = False
) -> OutMessage:
    """One message listing the items: a header, then one paragraph per article.

    Items are separate paragraphs with no tag across a blank line, so `split_message` (and
    `render_digest_parts`) can cut a long digest between items and every part stays valid.
    """
    head_key = "digest_header_html" if caps.markup == HTML else "digest_header"
    paragraphs = [t(head_key, lang, count=len(articles))]
    for n, article in enumerate(articles, 1):
        title = shorten(article.title.strip() or "—", DIGEST_ITEM_TITLE)
        meta = " · ".join(p for p in (article.feed_name, format_date(article.published_at)) if p)
        if caps.markup == HTML:
            line = f"{n}. <b>{escape(title)}</b>"
            if article.link:
                line = f'{n}. <a href="{escape(article.link)}">{escape(title)}</a>'
            if meta:
                line += f"\n<i>{escape(meta)}</i>"
        else:
            line = f"{n}. {title}" + (f"\n{meta}" if meta else "")
            if article.link:
                line += f"\n{article.link}"
        paragraphs.append(line)
    text = "\n\n".join(paragraphs)
    return OutMessage(text=text, markup=caps.markup, link_preview=link_preview)


def render_digest_parts(
    articles: list[Article], lang: str, caps: Capabilities, *, link_preview: bool = False
) -> list[OutMessage]:
    """A digest split into messages within the platform's limit, in order."""
    return split_message(
        render_digest(articles, lang, caps, link_preview=link_preview), caps.max_text
    )

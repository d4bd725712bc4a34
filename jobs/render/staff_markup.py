"""Staff formatting: *đậm*, _nghiêng_ and [chữ](https://địa-chỉ), parsed into a tree.

Why a tree: the marks used to become tags by three regular-expression passes over the text, so
overlapping marks (``*bold _ital* tail_``) produced ``<b>…<i>…</b>…</i>``, which Telegram
refuses as a whole, and the italic pass rewrote underscores inside link addresses. Here a
line is read once, left to right: a link is one atom whose address is kept exactly as typed,
and a mark's content is parsed only inside that mark, so every span closes before its parent
does. A mark without a partner stays as the character the staff member typed. The same tree
renders to Telegram HTML and to plain text (Zalo), so both say the same words, and the preview
shows exactly what is sent because both are made by the same pure function.

The rules of a mark are the ones staff already know from chat apps and from the regular
expressions this replaces: an opening mark is followed by a non-space and is not glued to a
word before it (``file_name_here`` and ``2*3*4`` stay as typed), a closing mark follows a
non-space and is not glued to a word after it, a mark's content holds no mark of its own kind,
and no mark or link spans a line (so ``split_message`` never cuts inside a tag).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["Link", "Node", "Span", "parse", "staff_html", "staff_plain", "to_html", "to_plain"]

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s()]+)\)")
_TAGS = {"*": "b", "_": "i"}


@dataclass(frozen=True)
class Span:
    """Bold ("*") or italic ("_") text around its children."""

    mark: str
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Link:
    """[label](url): ``url`` exactly as typed; the label may hold bold and italic."""

    url: str
    children: tuple[Node, ...]


Node = str | Span | Link
_Atom = str | Link  # one character of a line, or a whole link


def parse(text: str) -> tuple[Node, ...]:
    """The staff text as a tree: plain strings, Spans and Links, line breaks kept in strings."""
    nodes: list[Node] = []
    for number, line in enumerate(text.split("\n")):
        if number:
            nodes.append("\n")
        nodes.extend(_parse_line(line))
    return _merged(nodes)


def _parse_line(line: str) -> list[Node]:
    atoms: list[_Atom] = []
    pos = 0
    for m in _LINK.finditer(line):
        atoms.extend(line[pos : m.start()])
        atoms.append(Link(m.group(2), _merged(_parse_marks(list(m.group(1)), 0, len(m.group(1))))))
        pos = m.end()
    atoms.extend(line[pos:])
    return _parse_marks(atoms, 0, len(atoms))


def _is_space(atom: _Atom | None) -> bool:
    return atom is None or (isinstance(atom, str) and atom.isspace())


def _is_word(atom: _Atom | None) -> bool:
    # \w as the regular expressions had it; a link counts as punctuation (its tag's bracket)
    return isinstance(atom, str) and (atom.isalnum() or atom == "_")


def _opens(atoms: list[_Atom], i: int) -> bool:
    mark = atoms[i]
    before = atoms[i - 1] if i > 0 else None
    after = atoms[i + 1] if i + 1 < len(atoms) else None
    if _is_word(before) or (mark == "*" and before == "*"):
        return False
    return not _is_space(after)


def _closes(atoms: list[_Atom], i: int) -> bool:
    mark = atoms[i]
    before = atoms[i - 1] if i > 0 else None
    after = atoms[i + 1] if i + 1 < len(atoms) else None
    if _is_space(before) or _is_word(after) or (mark == "*" and after == "*"):
        return False
    return True


def _parse_marks(atoms: list[_Atom], start: int, end: int) -> list[Node]:
    """Nodes for atoms[start:end]; context for the mark rules is read from the whole line."""
    out: list[Node] = []
    i = start
    while i < end:
        atom = atoms[i]
        if isinstance(atom, str) and atom in _TAGS and _opens(atoms, i):
            close = next((j for j in range(i + 1, end) if atoms[j] == atom), None)
            if close is not None and close > i + 1 and _closes(atoms, close):
                out.append(Span(atom, _merged(_parse_marks(atoms, i + 1, close))))
                i = close + 1
                continue
        out.append(atom)
        i += 1
    return out


def _merged(nodes: list[Node]) -> tuple[Node, ...]:
    """Adjacent strings joined, so the tree stays small and equal trees compare equal."""
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, str) and out and isinstance(out[-1], str):
            out[-1] += node
        else:
            out.append(node)
    return tuple(out)


def to_html(nodes: tuple[Node, ...]) -> str:
    """Telegram HTML: text escaped, <b>/<i> around spans, <a href> with the URL as typed."""
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(html.escape(node, quote=True))
        elif isinstance(node, Span):
            tag = _TAGS[node.mark]
            parts.append(f"<{tag}>{to_html(node.children)}</{tag}>")
        else:
            parts.append(
                f'<a href="{html.escape(node.url, quote=True)}">{to_html(node.children)}</a>'
            )
    return "".join(parts)


def to_plain(nodes: tuple[Node, ...], *, link_urls: bool = True) -> str:
    """The words without marks; a link as "label (url)" (platforms without links need the
    address), or just its label with ``link_urls=False`` (what Telegram shows as text)."""
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, Span):
            parts.append(to_plain(node.children, link_urls=link_urls))
        else:
            label = to_plain(node.children, link_urls=link_urls)
            parts.append(f"{label} ({node.url})" if link_urls else label)
    return "".join(parts)


def staff_html(text: str) -> str:
    """Staff text → Telegram HTML, well nested whatever the marks (see the module docstring)."""
    return to_html(parse(text))


def staff_plain(text: str) -> str:
    """Staff text for platforms without markup: marks dropped, links as "label (url)"."""
    return to_plain(parse(text))

"""Lines fitted to the terminal at word boundaries, with code kept whole.

A terminal left to itself folds a long line at its last column, mid-word and mid-UUID. The
sandbox breaks lines at spaces instead, and never inside a code span (`` `…` `` in a message,
a ready command in the banner, both styled :data:`~bot.sandbox.mrkdwn.CODE_STYLE`): what is
there to be copied stays on one line, to be pasted whole. A span wider than the terminal is
left whole too (the terminal folds it for display, and a copy of it is still one line).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from bot.sandbox.mrkdwn import CODE_STYLE


def fit(text: Text, width: int | None, first: str = "", rest: str | None = None) -> list[Text]:
    """``text`` as lines of at most ``width`` cells: ``first`` before the first line, ``rest``
    (default: as many spaces) before the others. ``width`` None: one line, as it is."""
    rest = " " * cell_len(first) if rest is None else rest
    if width is None:
        return [Text(first) + text]
    words = _words(text)
    lines: list[Text] = []
    prefix = first
    start: int | None = None
    end = 0
    for word_start, word_end in words:
        if start is None:
            start, end = word_start, word_end
        elif cell_len(prefix) + cell_len(text.plain[start:word_end]) <= width:
            end = word_end
        else:
            lines.append(Text(prefix) + text[start:end])
            prefix, start, end = rest, word_start, word_end
    if start is not None:
        lines.append(Text(prefix) + text[start:end])
    return lines or [Text(first)]


def _words(text: Text) -> list[tuple[int, int]]:
    """Where a line may break: at a space outside code."""
    plain = text.plain
    kept = [False] * len(plain)
    for span in text.spans:
        if CODE_STYLE in str(span.style).split():
            kept[span.start : span.end] = [True] * (span.end - span.start)
    words: list[tuple[int, int]] = []
    start = 0
    for index, char in enumerate(plain):
        if char == " " and not kept[index]:
            if index > start:
                words.append((start, index))
            start = index + 1
    if start < len(plain):
        words.append((start, len(plain)))
    return words

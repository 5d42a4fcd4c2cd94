"""Document structure from text, as RAGFlow's ``rag/nlp`` reads it for the book, laws, manual and
paper methods: numbering styles ("bullets"), title levels, tables of contents.

Restated from RAGFlow's behaviour (``BULLET_PATTERN``, ``bullets_category``, ``not_bullet``,
``not_title``, ``title_frequency``, ``remove_contents_table``, ``tree_merge`` and
``hierarchical_merge``); where a block says it is a heading (``kind == "heading"``, as a DOCX
``Heading 1`` or a Markdown ``#`` does) that counts as RAGFlow's layout "title".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..chunking import Chunk
from ..model import TextBlock
from ..tokens import count_tokens

_CN_NUM = "零一二三四五六七八九十百"

# Numbering styles, each a list of levels from the outermost: Chinese statute numbering, decimal
# numbering, Chinese numerals, English part/chapter/section/article, Markdown headings.
BULLET_PATTERNS: tuple[tuple[re.Pattern[str], ...], ...] = tuple(
    tuple(re.compile(p) for p in style)
    for style in (
        (
            rf"第[{_CN_NUM}0-9]+(分?编|部分)",
            rf"第[{_CN_NUM}0-9]+章",
            rf"第[{_CN_NUM}0-9]+节",
            rf"第[{_CN_NUM}0-9]+条",
            rf"[\(（][{_CN_NUM}]+[\)）]",
        ),
        (
            r"第[0-9]+章",
            r"第[0-9]+节",
            r"[0-9]{,2}[\. 、]",
            r"[0-9]{,2}\.[0-9]{,2}[^a-zA-Z/%~-]",
            r"[0-9]{,2}\.[0-9]{,2}\.[0-9]{,2}",
            r"[0-9]{,2}\.[0-9]{,2}\.[0-9]{,2}\.[0-9]{,2}",
        ),
        (
            rf"第[{_CN_NUM}0-9]+章",
            rf"第[{_CN_NUM}0-9]+节",
            rf"[{_CN_NUM}]+[ 、]",
            rf"[\(（][{_CN_NUM}]+[\)）]",
            r"[\(（][0-9]{,2}[\)）]",
        ),
        (
            r"PART (ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE|TEN)",
            r"Chapter (I+V?|VI*|XI|IX|X)",
            r"Section [0-9]+",
            r"Article [0-9]+",
        ),
        (r"#[^#]", r"##[^#]", r"###.*", r"####.*", r"#####.*", r"######.*"),
    )
)

# Lines that start like a number but are not numbering: "0", quantities ("3 个"), dotted leaders
# of a table of contents ("3....12"), section references inside a sentence ("1.2.3的").
_NOT_BULLET = tuple(
    re.compile(p) for p in (r"0", r"[0-9]+ +[0-9~个只-]", r"[0-9]+\.{2,}", r"[0-9]+(\.[0-9]+){2,}[的中]")
)
_CONTENTS = re.compile(r"(contents|目录|目次|table of contents|致谢|acknowledge)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Line:
    """A non-blank line of the document: its stripped text, where that starts in the extracted
    text, its page, and its heading level when its block is a heading (0 otherwise)."""

    text: str
    offset: int
    page: int | None
    heading: int = 0
    starts_paragraph: bool = False  # first line of its block, or after a blank line


def lines_and_tables(blocks: Iterable[TextBlock]) -> tuple[list[Line], list[Chunk]]:
    """The document's lines, and its tables as chunks of their own (RAGFlow keeps tables apart)."""
    lines: list[Line] = []
    tables: list[Chunk] = []
    offset = 0
    for block in blocks:
        text = block.text
        if block.kind == "table":
            stripped = text.strip()
            if stripped:
                lead = len(text) - len(text.lstrip())
                tables.append(Chunk(stripped, count_tokens(stripped), block.page, offset + lead, kind="table"))
        else:
            heading = max(1, block.level) if block.kind == "heading" else 0
            position = 0
            fresh = True
            for raw in text.split("\n"):
                stripped = raw.strip()
                if stripped:
                    lead = len(raw) - len(raw.lstrip())
                    lines.append(Line(stripped, offset + position + lead, block.page, heading, fresh))
                    fresh = False
                else:
                    fresh = True
                position += len(raw) + 1
        offset += len(text)
    return lines, tables


def not_bullet(text: str) -> bool:
    return any(p.match(text) for p in _NOT_BULLET)


def bullet_level(style: int, text: str) -> int | None:
    """The numbering level (0 = outermost) of ``text`` in ``style``, or ``None``."""
    if style < 0:
        return None
    for level, pattern in enumerate(BULLET_PATTERNS[style]):
        if pattern.match(text) and not not_bullet(text):
            return level
    return None


def bullets_category(texts: Iterable[str]) -> int:
    """The numbering style most lines follow (index into ``BULLET_PATTERNS``), -1 for none."""
    texts = [t.strip() for t in texts]
    hits = [0] * len(BULLET_PATTERNS)
    for index, style in enumerate(BULLET_PATTERNS):
        for text in texts:
            if any(p.match(text) for p in style) and not not_bullet(text):
                hits[index] += 1
    best, found = 0, -1
    for index, hit in enumerate(hits):
        if hit > best:
            best, found = hit, index
    return found


def not_title(text: str) -> bool:
    """A heading-styled line that reads like a sentence is not a title (RAGFlow's ``not_title``)."""
    if re.match(rf"第[{_CN_NUM}0-9]+条", text):
        return False
    if len(text.split()) > 12 or (" " not in text and len(text) >= 32):
        return True
    return re.search(r"[,;，。；！!]", text) is not None


def remove_contents_table(lines: list[Line], english: bool) -> list[Line]:
    """Drop a table of contents: from a "Contents" line up to where its first entry reappears as
    the heading it points at (within 128 lines)."""
    out = list(lines)
    i = 0
    while i < len(out):
        if not _CONTENTS.match(re.sub(r"( |\u3000)+", "", out[i].text)):
            i += 1
            continue
        out.pop(i)
        if i >= len(out):
            break
        first = out.pop(i).text
        prefix = " ".join(first.split()[:2]) if english else first[:3]
        if not prefix or i >= len(out):
            break
        for j in range(i, min(i + 128, len(out))):
            if out[j].text.startswith(prefix):
                del out[i:j]
                break
    return out


def is_english(lines: list[Line]) -> bool:
    sample = [line.text for line in lines[:200]]
    if not sample:
        return False
    pattern = re.compile(r"[`a-zA-Z0-9\s.,':;/\"?<>!\(\)\-]+")
    return sum(1 for t in sample if pattern.fullmatch(t)) / len(sample) > 0.8


def _meaningful(lines: list[Line]) -> list[Line]:
    # RAGFlow's merges skip one-character lines and bare numbers (page numbers).
    return [line for line in lines if len(line.text) > 1 and not re.fullmatch(r"[0-9]+", line.text)]


def title_levels(style: int, lines: list[Line]) -> tuple[int, list[int]]:
    """Each line's level (numbering level; then heading; then body) and the level sections start
    at: the most frequent title level (RAGFlow's ``title_frequency``)."""
    size = len(BULLET_PATTERNS[style]) if style >= 0 else 0
    levels = []
    for line in lines:
        level = bullet_level(style, line.text)
        if level is None:
            level = size if line.heading and not not_title(line.text) else size + 1
        levels.append(level)
    most = size + 1
    for level, _ in sorted(Counter(levels).items(), key=lambda item: -item[1]):
        if level <= size:
            most = level
            break
    return most, levels


def section_ids(levels: list[int], most: int) -> list[int]:
    """A new section starts at each title of the pivot level (or above) after a line of another level."""
    ids, current = [], 0
    for index, level in enumerate(levels):
        if level <= most and index > 0 and level != levels[index - 1]:
            current += 1
        ids.append(current)
    return ids


def chunk_of(lines: list[Line], titles: tuple[Line, ...] = ()) -> Chunk:
    """A chunk of ``lines`` under ``titles``: the titles' and the lines' text, one per line."""
    text = "\n".join([t.text for t in titles] + [line.text for line in lines])
    anchor = lines[0] if lines else titles[-1]
    return Chunk(text, count_tokens(text), anchor.page, anchor.offset, titles=tuple(t.text for t in titles))


# --- laws: a tree of titles ---------------------------------------------------------------------


class _Node:
    __slots__ = ("children", "level", "lines")

    def __init__(self, level: int, lines: list[Line]) -> None:
        self.level = level
        self.lines = lines
        self.children: list[_Node] = []


def tree_chunks(style: int, lines: list[Line], depth: int) -> Iterator[Chunk]:
    """RAGFlow's ``tree_merge``: titles down to ``depth`` levels form a tree; each title at the
    deepest kept level is a chunk with the body under it, prefixed by the titles above it."""
    if not lines:
        return
    if style < 0:  # no numbering found: RAGFlow keeps every line as it is
        for line in lines:
            yield chunk_of([line])
        return
    size = len(BULLET_PATTERNS[style])
    kept = _meaningful(lines)
    leveled = []
    for line in kept:
        level = bullet_level(style, line.text)
        if level is not None:
            leveled.append((level + 1, line))
        elif line.heading and not not_title(line.text):
            leveled.append((size + 1, line))
        else:
            leveled.append((size + 2, line))
    if not leveled:
        return
    present = sorted({level for level, _ in leveled})
    target = present[depth - 1] if depth <= len(present) else present[-1]
    if target == size + 2:  # the body is not a title level
        target = present[-2] if len(present) > 1 else present[0]
    root = _Node(0, [])
    stack = [root]
    for level, line in leveled:
        if level > target:
            stack[-1].lines.append(line)
            continue
        while len(stack) > 1 and level <= stack[-1].level:
            stack.pop()
        node = _Node(level, [line])
        stack[-1].children.append(node)
        stack.append(node)
    yield from _walk(root, (), target)


def _walk(node: _Node, titles: tuple[Line, ...], depth: int) -> Iterator[Chunk]:
    if node.level == 0 and node.lines:
        yield chunk_of(node.lines)
    path = titles + tuple(node.lines) if 1 <= node.level <= depth else titles
    if not node.children and 1 <= node.level <= depth:
        yield chunk_of(list(node.lines), titles)
    for child in node.children:
        yield from _walk(child, path, depth)


# --- book: each body line under its chain of titles ---------------------------------------------

_BOOK_MERGE_TOKENS = 218  # RAGFlow merges title-less lines up to this many tokens


def hierarchical_chunks(style: int, lines: list[Line], depth: int) -> Iterator[Chunk]:
    """RAGFlow's ``hierarchical_merge``: each line of the ``depth`` lowest levels (body first) gets
    the nearest line before it of every level above as its titles; lines without any are merged
    with their neighbours up to 218 tokens."""
    kept = _meaningful(lines)
    if not kept or style < 0:
        return
    size = len(BULLET_PATTERNS[style])
    by_level: list[list[int]] = [[] for _ in range(size + 2)]
    for index, line in enumerate(kept):
        level = bullet_level(style, line.text)
        if level is None:
            level = size if line.heading and not not_title(line.text) else size + 1
        by_level[level].append(index)
    order = by_level[::-1]  # body, headings, then numbering from the innermost level out
    used = [False] * len(kept)
    groups: list[list[int]] = []
    for rank, indexes in enumerate(order[:depth]):
        for index in indexes:
            if used[index]:
                continue
            used[index] = True
            group = [index]
            if rank + 1 != len(order) - 1:
                for higher in order[rank + 1 :]:
                    before = _last_before(higher, index)
                    if before is None:
                        continue
                    if before > group[-1]:  # closer than the title found a level below: replace it
                        group.pop()
                    group.append(before)
            for member in group:
                used[member] = True
            groups.append(group)
    groups.sort(key=lambda group: group[0])  # document order (RAGFlow emits them level by level)
    merged: list[Chunk] = []
    pending: list[Line] = []
    pending_tokens = 0
    for group in groups:
        members = [kept[i] for i in reversed(group)]
        if len(members) == 1:
            tokens = count_tokens(members[0].text)
            if pending_tokens + tokens < _BOOK_MERGE_TOKENS:
                pending.append(members[0])
                pending_tokens += tokens
                continue
            if pending:
                merged.append(chunk_of(pending))
            pending, pending_tokens = [members[0]], tokens
            continue
        if pending:
            merged.append(chunk_of(pending))
        pending, pending_tokens = [], _BOOK_MERGE_TOKENS
        merged.append(chunk_of([members[-1]], tuple(members[:-1])))
    if pending:
        merged.append(chunk_of(pending))
    yield from merged


def _last_before(indexes: list[int], target: int) -> int | None:
    """The largest of the sorted ``indexes`` smaller than ``target``."""
    from bisect import bisect_left

    position = bisect_left(indexes, target)
    return indexes[position - 1] if position > 0 else None


def blank_out(blocks: Iterable[TextBlock], dropped: list[Line]) -> Iterator[TextBlock]:
    """``blocks`` with the text of ``dropped`` lines turned into spaces: what is left keeps its
    offsets in the extracted text, and the dropped text is gone from every chunk."""
    ranges = sorted((line.offset, line.offset + len(line.text)) for line in dropped)
    index = 0
    offset = 0
    for block in blocks:
        text = block.text
        end = offset + len(text)
        if index < len(ranges) and ranges[index][0] < end:
            chars = list(text)
            while index < len(ranges) and ranges[index][0] < end:
                start, stop = ranges[index]
                for position in range(max(start, offset), min(stop, end)):
                    chars[position - offset] = " "
                if stop > end:
                    break
                index += 1
            text = "".join(chars)
            block = TextBlock(text, block.page, block.kind, block.level, block.table, block.source)
        offset = end
        yield block

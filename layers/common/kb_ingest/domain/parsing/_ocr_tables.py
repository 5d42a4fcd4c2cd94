"""Ruled tables in page images: the grid from the drawn lines, OCR'd words placed in its cells.

RAGFlow's DeepDOC finds table structure with a vision model; none ships in a registry package,
so this reads the tables that have drawn borders (most scanned forms and reports): horizontal
and vertical strokes are found by morphology (OpenCV, part of the OCR stack), their crossings
give the rows and columns, and a missing stroke between two neighbouring cells merges them
(colspan, rowspan). Text boxes whose centres fall inside the grid become its cells' text; the
rest of the page is read as lines. Only used where OpenCV is installed (the OCR function).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

MIN_ROWS, MIN_COLUMNS = 2, 2


def _positions(profile: Any, min_gap: int) -> list[int]:
    """Centres of the runs of True in a boolean profile, runs closer than ``min_gap`` merged."""
    runs: list[list[int]] = []
    for index, on in enumerate(profile):
        if not on:
            continue
        if runs and index - runs[-1][1] <= min_gap:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return [(a + b) // 2 for a, b in runs]


def find_grid(image: Any) -> tuple[list[int], list[int], Any, Any] | None:
    """(row lines' y, column lines' x, horizontal-stroke mask, vertical-stroke mask) of the
    largest ruled table, or ``None``. ``image`` is a BGR or grey numpy array."""
    import cv2
    import numpy as np

    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    ink = cv2.adaptiveThreshold(~grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 15, -2)
    width = ink.shape[1]
    horizontal = cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(width // 25, 10), 1))
    )
    # Rows first: long horizontal strokes. Their extent is the table's, their spacing says how tall
    # a vertical stroke must be to be a border rather than a letter's stem.
    ys, xs = np.nonzero(horizontal)
    if len(ys) == 0:
        return None
    x, w = int(xs.min()), int(xs.max() - xs.min() + 1)
    rows = _positions((horizontal[:, x : x + w] > 0).mean(axis=1) > 0.25, 3)
    if len(rows) < MIN_ROWS + 1 or w < width // 5:
        return None
    y, h = rows[0], rows[-1] - rows[0] + 1
    shortest = min(b - a for a, b in pairwise(rows))
    stem = max(int(shortest * 0.7), 10)
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, stem)))
    v_region = vertical[y : y + h, max(x - 4, 0) : x + w + 4] > 0
    # A column border runs through a good part of the table's height (a merged header cell may
    # interrupt it); letters' stems and figure frames do not. Tables ruled only horizontally
    # (booktabs) have no such strokes and are read as lines, which keeps their rows in order.
    columns = [max(x - 4, 0) + c for c in _positions(v_region.mean(axis=0) > 0.35, 3)]
    if len(columns) < MIN_COLUMNS + 1:
        return None
    return rows, columns, horizontal > 0, vertical > 0


def _stroke_between(mask: Any, fixed: int, start: int, end: int, *, vertical: bool) -> bool:
    """Whether a stroke runs at ``fixed`` (x for vertical, y for horizontal) across most of [start, end)."""
    if end - start < 4:
        return True
    lo, hi = max(fixed - 3, 0), fixed + 4
    band = mask[start:end, lo:hi] if vertical else mask[lo:hi, start:end]
    covered = band.any(axis=1 if vertical else 0)
    return bool(covered.mean() > 0.6)


def table_cells(
    rows: list[int], columns: list[int], horizontal: Any, vertical: Any
) -> list[list[tuple[int, int, int, int]]]:
    """The grid's cells row by row as (row, column, rowspan, colspan), merged where no stroke separates them."""
    n_rows, n_cols = len(rows) - 1, len(columns) - 1
    covered: set[tuple[int, int]] = set()
    cells: list[list[tuple[int, int, int, int]]] = []
    for r in range(n_rows):
        line = []
        for c in range(n_cols):
            if (r, c) in covered:
                continue
            colspan = 1
            while c + colspan < n_cols and not _stroke_between(
                vertical, columns[c + colspan], rows[r] + 2, rows[r + 1] - 2, vertical=True
            ):
                colspan += 1
            rowspan = 1
            while r + rowspan < n_rows and not _stroke_between(
                horizontal, rows[r + rowspan], columns[c] + 2, columns[c + colspan] - 2, vertical=False
            ):
                rowspan += 1
            covered.update((r + dr, c + dc) for dr in range(rowspan) for dc in range(colspan))
            line.append((r, c, rowspan, colspan))
        cells.append(line)
    return cells


def read_with_tables(image_bytes: bytes, boxes: Any, texts: Any) -> list[Any]:
    """The page as lines (str) and tables ({"table": rows of {"text", "colspan", "rowspan"}}) in
    reading order, from OCR boxes (quadrilaterals) and their texts."""
    import cv2
    import numpy as np

    from .ocr import lines_from_boxes

    if boxes is None or texts is None:
        return []
    image = cv2.imdecode(np.frombuffer(image_bytes, np.uint8), cv2.IMREAD_GRAYSCALE)
    found = find_grid(image) if image is not None else None
    if found is None:
        return list(lines_from_boxes(boxes, texts))
    rows, columns, horizontal, vertical = found
    top, bottom, left, right = rows[0], rows[-1], columns[0], columns[-1]
    inside: list[tuple[float, float, Any, str]] = []
    above: tuple[list[Any], list[str]] = ([], [])
    below: tuple[list[Any], list[str]] = ([], [])
    for box, text in zip(boxes, texts, strict=False):
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        cx, cy = sum(xs) / 4, sum(ys) / 4
        if left <= cx <= right and top <= cy <= bottom:
            inside.append((cx, cy, box, str(text)))
        elif cy < top:
            above[0].append(box)
            above[1].append(str(text))
        else:
            below[0].append(box)
            below[1].append(str(text))
    grid = table_cells(rows, columns, horizontal, vertical)
    table_rows = []
    for line in grid:
        out_row = []
        for r, c, rowspan, colspan in line:
            y0, y1 = rows[r], rows[r + rowspan]
            x0, x1 = columns[c], columns[c + colspan]
            members = [(cx, cy, b, t) for cx, cy, b, t in inside if x0 <= cx < x1 and y0 <= cy < y1]
            text = " ".join(lines_from_boxes([m[2] for m in members], [m[3] for m in members]))
            out_row.append({"text": text, "colspan": colspan, "rowspan": rowspan})
        if any(cell["text"] for cell in out_row):
            table_rows.append(out_row)
    items: list[Any] = list(lines_from_boxes(*above))
    if table_rows:
        items.append({"table": table_rows})
    items += lines_from_boxes(*below)
    return items

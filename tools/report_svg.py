"""Inline SVG charts for the validation report (``tools/report.py``), drawn from numbers.

Hand-written SVG rather than matplotlib images: the page stays self-contained and small,
its text stays text (a browser's find, a screen reader and the test's DOM check all see
every label and value), and the charts need no backend, no font files and no network.
Every chart is ``<svg class="chart" data-chart="KIND">`` so that the test can find it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

FONT = 12
MEASURED, ESTIMATED, SHARED, BAD, GOOD = "#2f6fb0", "#d08a1e", "#9aa3ad", "#c0392b", "#2e8b57"


def _text(x: float, y: float, s: str, anchor: str = "start", size: int = FONT, weight: str = "normal",
          fill: str = "#222", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}"{extra}>{escape(s)}</text>')


def _short(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _open(kind: str, title: str, width: int, height: int) -> str:
    return (f'<svg class="chart" data-chart="{kind}" role="img" aria-label="{escape(title)}" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            + _text(0, 16, title, size=13, weight="bold"))


def hbars(kind: str, title: str, rows: Sequence[tuple[str, float, str]], width: int = 540,
          fmt: str = "{:,.0f}", label_chars: int = 30) -> str:
    """Horizontal bars, one per (label, value, color); a value below zero draws no bar but keeps
    its number (a residual of a fitted model can be negative)."""
    label_w, value_w, row_h, top = 7.2 * min(label_chars, max((len(r[0]) for r in rows), default=8)) + 10, 86, 24, 28
    bar_w = width - label_w - value_w
    vmax = max((v for _, v, _ in rows), default=0) or 1
    out = [_open(kind, title, width, int(top + row_h * len(rows) + 6))]
    for i, (label, value, color) in enumerate(rows):
        y = top + i * row_h
        w = max(value, 0) / vmax * bar_w
        out.append(f'<g class="bar"><title>{escape(label)}: {escape(fmt.format(value))}</title>')
        out.append(_text(label_w - 8, y + 15, _short(label, label_chars), anchor="end"))
        out.append(f'<rect x="{label_w:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{color}" rx="2"/>')
        out.append(_text(label_w + w + 6, y + 15, fmt.format(value), fill="#333") + "</g>")
    return "".join(out) + "</svg>"


def error_histogram(kind: str, title: str, errors: Sequence[float], tolerance: float | None = None,
                    width: int = 540, height: int = 230) -> str:
    """Counts of |chain - float| on a log scale (half-decade bins), exact zeros as their own bar
    at the left: 18-decimal fixed point often equals the float64 oracle to the last digit."""
    zeros = sum(1 for e in errors if e == 0)
    logs = [math.log10(e) for e in errors if e > 0]
    lo = math.floor(min(logs)) if logs else -18
    hi = max(math.ceil(max(logs)) if logs else lo + 1, lo + 1)
    if tolerance and tolerance > 0:  # keep the tolerance line on the axis
        lo, hi = min(lo, math.floor(math.log10(tolerance))), max(hi, math.ceil(math.log10(tolerance)))
    per_decade = 2 if hi - lo <= 10 else 1
    n_bins = (hi - lo) * per_decade
    counts = [0] * n_bins
    for v in logs:
        counts[min(int((v - lo) * per_decade), n_bins - 1)] += 1
    left, bottom, top = 46, 40, 30
    plot_w, plot_h = width - left - 12, height - top - bottom
    slot = plot_w / (n_bins + 2)  # the zero bar, a gap, then the bins
    cmax = max(counts + [zeros, 1])
    out = [_open(kind, title, width, height)]
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="#888"/>')
    for frac in (0.5, 1.0):  # y grid
        y = top + plot_h * (1 - frac)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(_text(left - 6, y + 4, f"{round(cmax * frac):,}", anchor="end", size=10, fill="#666"))

    def bar(x: float, count: int, color: str, label: str) -> str:
        h = count / cmax * plot_h
        return (f'<rect class="bin" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.86:.1f}" height="{h:.1f}" '
                f'fill="{color}"><title>{escape(label)}: {count:,}</title></rect>')

    out.append(bar(left, zeros, GOOD, "exactly equal"))
    out.append(_text(left + slot * 0.43, top + plot_h + 14, "0", anchor="middle", size=10))
    x0 = left + slot * 2
    for k, c in enumerate(counts):
        a = lo + k / per_decade
        out.append(bar(x0 + k * slot, c, MEASURED, f"1e{a:g} .. 1e{a + 1 / per_decade:g}"))
    step = max(1, math.ceil((hi - lo) / 7))  # at most ~8 decade labels
    for d in range(lo, hi + 1):
        if (d - lo) % step == 0:
            x = x0 + (d - lo) * per_decade * slot
            out.append(_text(x, top + plot_h + 14, f"1e{d}", anchor="middle", size=10))
    if tolerance and tolerance > 0:
        x = x0 + (math.log10(tolerance) - lo) * per_decade * slot
        out.append(f'<line class="tolerance" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                   f'stroke="{BAD}" stroke-dasharray="4 3"/>')
        right = x > width - 110  # near the right edge: the label goes to the left of the line
        out.append(_text(x - 4 if right else x + 4, top + 10, f"atol {tolerance:g}", anchor="end" if right else "start",
                         size=10, fill=BAD))
    out.append(_text(left + plot_w / 2, height - 6, "absolute error |on chain − onnxruntime| (log scale); rows × outputs",
                     anchor="middle", size=11, fill="#444"))
    return "".join(out) + "</svg>"


def confusion(kind: str, title: str, classes: Sequence[str], matrix: Sequence[Sequence[int]], width: int = 540) -> str:
    """Rows: the float model's decision; columns: the contract's. Agreement is the diagonal."""
    n = len(classes)
    cell = max(14, min(52, (width - 130) // max(n, 1)))
    left, top = 110, 58
    height = top + cell * n + 30
    total = max(sum(map(sum, matrix)), 1)
    out = [_open(kind, title, max(width, left + cell * n + 20), height)]
    out.append(_text(left + cell * n / 2, 36, "on chain →", anchor="middle", size=11, fill="#444"))
    out.append(_text(left - 6, 36, "float ↓", anchor="end", size=11, fill="#444"))
    show_labels = cell >= 22
    for j, c in enumerate(classes):
        if show_labels:
            out.append(_text(left + j * cell + cell / 2, top - 6, _short(c, 8), anchor="middle", size=10))
            out.append(_text(left - 6, top + j * cell + cell / 2 + 4, _short(c, 12), anchor="end", size=10))
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            share = count / total
            if count == 0:
                color = "#f7f7f7"
            elif i == j:
                color = f"rgba(46,139,87,{0.25 + 0.75 * min(1.0, share * n):.2f})"
            else:
                color = f"rgba(192,57,43,{0.35 + 0.65 * min(1.0, share * n * 4):.2f})"
            x, y = left + j * cell, top + i * cell
            out.append(f'<rect class="cell" x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{color}">'
                       f'<title>float {escape(classes[i])}, chain {escape(classes[j])}: {count:,}</title></rect>')
            if show_labels:
                out.append(_text(x + cell / 2 - 1, y + cell / 2 + 4, f"{count:,}", anchor="middle", size=11,
                                 fill="#111" if count == 0 or i != j else "#fff"))
    return "".join(out) + "</svg>"

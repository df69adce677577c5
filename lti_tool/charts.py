"""Server-side SVG charts for the report pages: a funnel, a histogram and a time series.

Framework-free and dependency-free: each function returns one ``<svg>`` document fragment as a
string that the web layer marks safe. Every piece of text that reaches the SVG (labels, titles,
descriptions, formatted numbers) is escaped here, so course titles and learner-supplied values
cannot inject markup.

Accessibility (WCAG 2.1 AA): each chart is ``role="img"`` with ``<title>`` and ``<desc>`` tied to
it by ``aria-labelledby``; every bar or point carries its value as text beside it, so nothing is
told by colour alone; colours meet 3:1 contrast against white. Pages show the same figures as a
table next to the chart for readers who prefer one. With ``empty`` given, a chart with nothing to
show is that sentence instead of empty axes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

#: Bar colour (dark blue, 8.6:1 on white) and the accent for the last funnel stage (dark green, 5.9:1).
BAR = "#1f4e79"
ACCENT = "#2e6b30"
INK = "#1a1a1a"
GRID = "#8a8a8a"

_ids = itertools.count(1)


#: Longest funnel label drawn in full (about 200 px at 12 px sans-serif); longer ones end in "…"
#: (the chart's description and the table beside it carry the full text).
LABEL_CHARS = 30


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _default_number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


@dataclass(frozen=True)
class Point:
    """One labelled value: a funnel stage, a histogram bin, a period of a series."""

    label: str
    value: float


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _open(width: int, height: int, title: str, desc: str, css_class: str) -> tuple[str, str]:
    uid = f"chart{next(_ids)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {_attr(css_class)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{uid}-t {uid}-d">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{INK}" font-family="sans-serif">{escape(text)}</text>'
    )


def _empty(title: str, desc: str, css_class: str, text: str) -> str:
    head, tail = _open(360, 48, title, desc, css_class)
    return head + _text(8, 28, text, size=14) + tail


def funnel_svg(
    stages: Sequence[Point],
    *,
    title: str,
    desc: str,
    number: Callable[[float], str] = _default_number,
    percent_of_first: Callable[[float], str] | None = None,
    empty: str = "",
) -> str:
    """Horizontal bars, one per stage, each as long as its share of the first stage.

    Args:
        stages: e.g. enrolled → started → completed → passed, in order.
        title, desc: the accessible name and description (already in the reader's language).
        number: formats a count in the reader's locale.
        percent_of_first: formats a 0..1 share in the reader's locale (e.g. "75 %"); default "75%".
    """
    if empty and not any(stage.value for stage in stages):
        return _empty(title, desc, "funnel", empty)
    share = percent_of_first or (lambda v: f"{v * 100:.0f}%")
    label_w, bar_w, row_h, top = 220, 300, 34, 8
    height = top * 2 + row_h * max(len(stages), 1)
    head, tail = _open(label_w + bar_w + 150, height, title, desc, "funnel")
    first = stages[0].value if stages else 0
    parts = [head]
    for i, stage in enumerate(stages):
        y = top + i * row_h
        ratio = (stage.value / first) if first else 0.0
        width = max(bar_w * ratio, 1.0 if stage.value else 0.0)
        colour = ACCENT if i == len(stages) - 1 and i > 0 else BAR
        parts.append(_text(label_w - 8, y + row_h * 0.62, _fit(stage.label, LABEL_CHARS), anchor="end"))
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 10}" fill="{colour}" rx="2"/>'
        )
        figure = number(stage.value) if i == 0 or not first else f"{number(stage.value)} ({share(ratio)})"
        parts.append(_text(label_w + width + 6, y + row_h * 0.62, figure))
    parts.append(tail)
    return "".join(parts)


def histogram_svg(
    bins: Sequence[Point],
    *,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    number: Callable[[float], str] = _default_number,
    empty: str = "",
) -> str:
    """Vertical bars over labelled bins (e.g. score bands), the count written above each bar."""
    if empty and not any(b.value for b in bins):
        return _empty(title, desc, "histogram", empty)
    left, bottom, plot_h, top = 48, 46, 180, 22
    slot = 46
    width = left + slot * max(len(bins), 1) + 16
    head, tail = _open(width, top + plot_h + bottom, title, desc, "histogram")
    peak = max((b.value for b in bins), default=0) or 1
    base = top + plot_h
    parts = [head, f'<line x1="{left}" y1="{base}" x2="{width - 8}" y2="{base}" stroke="{GRID}"/>']
    for i, b in enumerate(bins):
        x = left + i * slot + 6
        h = plot_h * b.value / peak
        parts.append(f'<rect x="{x}" y="{base - h:.1f}" width="{slot - 12}" height="{h:.1f}" fill="{BAR}"/>')
        parts.append(_text(x + (slot - 12) / 2, base - h - 4, number(b.value), anchor="middle", size=11))
        parts.append(_text(x + (slot - 12) / 2, base + 14, b.label, anchor="middle", size=10))
    parts.append(_text((left + width) / 2, base + 34, x_label, anchor="middle", size=11, weight="bold"))
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.1f}" transform="rotate(-90 12 {top + plot_h / 2:.1f})" '
        f'text-anchor="middle" font-size="11" font-weight="bold" fill="{INK}" '
        f'font-family="sans-serif">{escape(y_label)}</text>'
    )
    parts.append(tail)
    return "".join(parts)


def series_svg(
    points: Sequence[Point],
    *,
    title: str,
    desc: str,
    y_label: str,
    number: Callable[[float], str] = _default_number,
    empty: str = "",
) -> str:
    """Values over consecutive periods (e.g. completions per month) as labelled columns.

    Columns rather than a line: with a dozen periods each value is read off its own label, which
    works for screen readers, print and colour-blind readers alike.
    """
    return histogram_svg(points, title=title, desc=desc, x_label="", y_label=y_label, number=number, empty=empty)


def score_bands(scores: Sequence[float], *, width: int = 10) -> list[Point]:
    """Count scores (0–100) into bands ``0–9``, ``10–19`` … ``90–100`` (100 joins the last band)."""
    if width <= 0 or 100 % width:
        raise ValueError("band width must divide 100")
    edges = list(range(0, 100, width))
    counts = [0] * len(edges)
    for score in scores:
        if score is None:
            continue
        clamped = min(max(float(score), 0.0), 100.0)
        counts[min(int(clamped // width), len(edges) - 1)] += 1
    labels = [f"{lo}–{lo + width - 1}" if lo + width < 100 else f"{lo}–100" for lo in edges]
    return [Point(label, count) for label, count in zip(labels, counts, strict=True)]

"""Server-side SVG charts for saved-query pages: no script, no external asset, text escaped.

`bar_chart` draws one horizontal bar per row; `stacked_chart` draws shares (0-1)
as segments of one 100% bar, each with its cumulative share, for concentration.
Each chart has a `<title>` and `<desc>` for screen readers; the table under it
holds the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH = 720
LABEL_WIDTH = 230
ROW = 24
BAR = 16
MAX_BARS = 40  # more bars than this are unreadable; the table has every row
PALETTE = ("#1d70b8", "#00703c", "#d4351c", "#6f72af", "#f47738", "#28a197", "#912b88", "#85994b")
OTHERS = "#b1b4b6"
TEXT = 'font-family="sans-serif" font-size="13" fill="#0b0c0c"'


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str) -> Markup:
    """Horizontal bars scaled to the largest value (the first MAX_BARS rows)."""
    pairs = list(zip(labels, values, strict=True))[:MAX_BARS]
    top = max((v for _, v in pairs), default=0.0) or 1.0
    plot = WIDTH - LABEL_WIDTH - 90
    height = ROW * len(pairs) + 10
    shown = f"the first {len(pairs)} of {len(labels)} rows" if len(labels) > len(pairs) else ""
    parts = [_open(title, f"Bar chart of {len(pairs)} values {shown}".strip(), height)]
    for index, (label, value) in enumerate(pairs):
        y = 5 + index * ROW
        width = max(0.0, value) / top * plot
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR - 3}" text-anchor="end" {TEXT}>'
            f"{escape(_short(label))}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {escape(_number(value))}</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + BAR - 3}" {TEXT}>'
            f"{escape(_number(value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_chart(labels: Sequence[str], shares: Sequence[float], *, title: str) -> Markup:
    """One 100% bar: a segment per row (share 0-1), the rest as "others", and a key with
    each row's share and the cumulative share up to it."""
    pairs = list(zip(labels, shares, strict=True))[:MAX_BARS]
    plot = WIDTH - 20
    height = 60 + ROW * (len(pairs) + 1)
    parts = [_open(title, f"Shares of {len(pairs)} rows of the whole, in one bar", height)]
    x, cumulative = 10.0, 0.0
    keys = []
    for index, (label, share) in enumerate(pairs):
        share = min(max(share, 0.0), 1.0 - cumulative)
        colour = PALETTE[index % len(PALETTE)]
        width = share * plot
        cumulative += share
        parts.append(
            f'<rect x="{x:.1f}" y="10" width="{width:.1f}" height="30" fill="{colour}" '
            f'stroke="#ffffff"><title>{escape(label)}: {_percent(share)}</title></rect>'
        )
        keys.append((colour, f"{label}: {_percent(share)} (cumulative {_percent(cumulative)})"))
        x += width
    rest = max(0.0, 1.0 - cumulative)
    if rest > 0:
        parts.append(
            f'<rect x="{x:.1f}" y="10" width="{rest * plot:.1f}" height="30" fill="{OTHERS}">'
            f"<title>others: {_percent(rest)}</title></rect>"
        )
        keys.append((OTHERS, f"others: {_percent(rest)}"))
    for index, (colour, text) in enumerate(keys):
        y = 55 + index * ROW
        parts.append(
            f'<rect x="10" y="{y}" width="14" height="14" fill="{colour}"/>'
            f'<text x="32" y="{y + 12}" {TEXT}>{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(title: str, description: str, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" class="chart">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"
    )


def _short(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _number(value: float) -> str:
    if value == int(value) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"

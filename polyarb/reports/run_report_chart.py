# Charts of `polyarb report ... --chart FILE`: the equity curve (pnl) and the distribution of
# expected edges (opportunities), as inline SVG in a self-contained HTML page, or bare SVG.
#
# Rules:
# 1. No plotting dependency: the SVG is written here. Geometry is integer pixels computed with
#    integer arithmetic from the exact micro-dollar values; labels print exact dollars.
# 2. `.html` and `.svg` are supported; `.png` needs a rasterizer polyarb does not ship, so it is
#    refused with a message saying what to use instead. Anything else is refused too.
# 3. Deterministic: the same rows give the same bytes (no timestamps of the drawing itself).
from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from pathlib import Path

from polyarb.core.stats import dollars
from polyarb.reports.run_report import ReportError

W, H = 860, 420
LEFT, RIGHT, TOP, BOTTOM = 96, 24, 40, 56
PLOT_W, PLOT_H = W - LEFT - RIGHT, H - TOP - BOTTOM
_STYLE = ("body{font-family:system-ui,sans-serif;margin:24px;color:#222}"
          "svg text{font-size:12px;fill:#333} .axis{stroke:#888} .grid{stroke:#eee}"
          ".line{fill:none;stroke:#1f6feb;stroke-width:2} .bar{fill:#1f6feb}")


def chart_format(path: Path) -> str:
    """`html` or `svg` from the file name (rule 2).

    Raises:
        ReportError: .png or any other extension.
    """
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return "html"
    if suffix == ".svg":
        return "svg"
    if suffix == ".png":
        raise ReportError(f"{path}: PNG charts need an image library polyarb does not depend "
                          "on; write .html (inline SVG, opens in any browser) or .svg")
    raise ReportError(f"{path}: charts are written as .html or .svg")


def write_chart(path: Path, title: str, svg: str, caption: str) -> None:
    """Write an SVG chart as `path` (.html page or bare .svg)."""
    if chart_format(path) == "svg":
        path.write_text(svg + "\n", encoding="utf-8")
        return
    page = (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n"
            f"<p>{html.escape(caption)}</p>\n{svg}\n</body></html>\n")
    path.write_text(page, encoding="utf-8")


def equity_svg(points: Sequence[tuple[int, int]], title: str) -> str:
    """A step line of cumulative realized P&L: (ts_recv_ns, cumulative micro-dollars)."""
    if not points:
        return _frame(title, [_label(LEFT + 20, TOP + PLOT_H // 2,
                                     "no realized P&L in the window", "start")])
    t0, t1 = points[0][0], points[-1][0]
    lo, hi = min(0, *(p[1] for p in points)), max(0, *(p[1] for p in points))
    hi = hi if hi > lo else lo + 1

    def x(ts: int) -> int:
        return LEFT + (ts - t0) * PLOT_W // max(t1 - t0, 1)

    def y(v: int) -> int:
        return TOP + (hi - v) * PLOT_H // (hi - lo)

    path = [f"{x(t0)},{y(0)}"]
    prev = 0
    for ts, value in points:
        path += [f"{x(ts)},{y(prev)}", f"{x(ts)},{y(value)}"]
        prev = value
    body = [
        *_y_axis(lo, hi, y),
        f"<polyline class=\"line\" points=\"{' '.join(path)}\"/>",
        _label(LEFT, H - BOTTOM + 20, _time(t0), "start"),
        _label(W - RIGHT, H - BOTTOM + 20, _time(t1), "end"),
    ]
    return _frame(title, body)


def histogram_svg(values: Sequence[int], title: str, bins: int = 12) -> str:
    """Bars counting micro-dollar values in equal-width bins between their min and max."""
    if not values:
        return _frame(title, [_label(LEFT + 20, TOP + PLOT_H // 2, "no opportunities", "start")])
    lo, hi = min(values), max(values)
    width = max(-(-(hi - lo + 1) // bins), 1)
    counts = [0] * bins
    for v in values:
        counts[min((v - lo) // width, bins - 1)] += 1
    top = max(counts)
    bar_w = PLOT_W // bins
    body = [_label(LEFT - 8, TOP + 4, str(top), "end"), _label(LEFT - 8, H - BOTTOM, "0", "end")]
    for i, n in enumerate(counts):
        h = n * PLOT_H // top
        x0 = LEFT + i * bar_w
        body.append(f"<rect class=\"bar\" x=\"{x0 + 2}\" y=\"{TOP + PLOT_H - h}\" "
                    f"width=\"{bar_w - 4}\" height=\"{h}\"><title>{dollars(lo + i * width)} to "
                    f"{dollars(lo + (i + 1) * width)}: {n}</title></rect>")
    body.append(_label(LEFT, H - BOTTOM + 20, dollars(lo), "start"))
    body.append(_label(W - RIGHT, H - BOTTOM + 20, dollars(lo + bins * width), "end"))
    return _frame(title, body)


def _y_axis(lo: int, hi: int, y: Callable[[int], int]) -> list[str]:
    out = []
    for i in range(5):
        v = lo + (hi - lo) * i // 4
        out.append(f"<line class=\"grid\" x1=\"{LEFT}\" x2=\"{W - RIGHT}\" y1=\"{y(v)}\" "
                   f"y2=\"{y(v)}\"/>")
        out.append(_label(LEFT - 8, y(v) + 4, dollars(v), "end"))
    return out


def _frame(title: str, body: list[str]) -> str:
    head = (f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" "
            f"viewBox=\"0 0 {W} {H}\" role=\"img\"><title>{html.escape(title)}</title>")
    axes = (f"<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{H - BOTTOM}\"/>"
            f"<line class=\"axis\" x1=\"{LEFT}\" y1=\"{H - BOTTOM}\" x2=\"{W - RIGHT}\" "
            f"y2=\"{H - BOTTOM}\"/>")
    return "\n".join([head, axes, *body, "</svg>"])


def _label(x: int, y: int, text: str, anchor: str) -> str:
    return f"<text x=\"{x}\" y=\"{y}\" text-anchor=\"{anchor}\">{html.escape(text)}</text>"


def _time(ts_ns: int) -> str:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts_ns // 1000)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")

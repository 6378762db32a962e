#!/usr/bin/env python3
"""Draws bench/results/results.json as an SVG chart: one panel per measured figure, one bar
per program (the median of its runs), each panel on its own linear scale, the machine
described underneath. No dependency beyond the standard library.

Usage: chart.py [results.json] [chart.svg]
"""
import json
import os
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))

COLORS = {
    "asyncio-cpp": "#d9480f",
    "C epoll": "#495057",
    "Python asyncio": "#4c6ef5",
    "uvloop": "#15aabf",
    "Boost.Asio": "#7048e8",
    "Node.js": "#37b24d",
}
PANEL_WIDTH = 480
LABEL_WIDTH = 190
BAR_AREA = 200
BAR_HEIGHT = 15
BAR_GAP = 5
COLUMNS = 2
MARGIN = 20


def human(value, unit):
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "B":
        return f"{value:.0f} B"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def text(x, y, content, size=12, anchor="start", weight="normal", fill="#212529"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(content)}</text>')


def panel(metric, x, y):
    """SVG elements of one figure's panel at (x, y), and the panel's height."""
    rows = [(r["peer"], r["median"]) for r in metric["results"] if r["median"]]
    better = "higher is better" if metric["higher_is_better"] else "lower is better"
    parts = [
        text(x, y + 14, metric["title"], size=13, weight="bold"),
        text(x, y + 30, f"{metric['unit']}, {better}", size=11, fill="#868e96"),
    ]
    top = y + 40
    largest = max((value for _, value in rows), default=1)
    for i, (peer, value) in enumerate(rows):
        row_y = top + i * (BAR_HEIGHT + BAR_GAP)
        family = peer.split(" (")[0]
        color = COLORS.get(family, "#adb5bd")
        ours = family == "asyncio-cpp"
        width = max(1.0, BAR_AREA * value / largest)
        parts.append(text(x + LABEL_WIDTH - 6, row_y + BAR_HEIGHT - 3, peer, size=11,
                          anchor="end", weight="bold" if ours else "normal"))
        parts.append(f'<rect x="{x + LABEL_WIDTH}" y="{row_y}" width="{width:.1f}" '
                     f'height="{BAR_HEIGHT}" fill="{color}" rx="2"/>')
        parts.append(text(x + LABEL_WIDTH + width + 4, row_y + BAR_HEIGHT - 3,
                          human(value, metric["unit"]), size=11,
                          weight="bold" if ours else "normal"))
    if not rows:
        parts.append(text(x, top + 12, "no result", size=11, fill="#868e96"))
    height = 40 + max(1, len(rows)) * (BAR_HEIGHT + BAR_GAP) + 16
    return parts, height


def wrap(line, width):
    words, lines, current = line.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return lines + ([current] if current else [])


def machine_lines(results):
    m = results["machine"]
    c = results["config"]
    peers = m["peers"]
    return [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}, Linux {m['kernel']}.",
        f"Compiler: {m['compilers']['c++']}. Peers: {peers['python']}, uvloop {peers['uvloop']}, "
        f"Boost {peers['boost']}, Node.js {peers['node']}, {peers['wrk']}.",
        f"Median of {c['runs']} run(s), N = {c['n']:,}, {c['seconds']:g} s per server run; "
        f"workload or server on core 0, load generator on core 1. asyncio-cpp "
        f"{m['asyncio_cpp_commit']}, {m['date']}, load average at start "
        f"{' '.join(f'{x:.2f}' for x in m['load_average_at_start'])}.",
    ]


def render(results):
    metrics = results["metrics"]
    width = MARGIN * 2 + COLUMNS * PANEL_WIDTH
    body = []
    y = MARGIN + 30
    body.append(text(MARGIN, MARGIN + 12, "asyncio-cpp and its peers, one thread each",
                     size=16, weight="bold"))
    for row in range(0, len(metrics), COLUMNS):
        heights = []
        for column, metric in enumerate(metrics[row:row + COLUMNS]):
            parts, height = panel(metric, MARGIN + column * PANEL_WIDTH, y)
            body += parts
            heights.append(height)
        y += max(heights)
    for line in machine_lines(results):
        for piece in wrap(line, 150):
            body.append(text(MARGIN, y + 12, piece, size=11, fill="#495057"))
            y += 16
    height = y + MARGIN
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n")


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "results.json")
    target = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "results", "chart.svg")
    with open(source) as f:
        results = json.load(f)
    with open(target, "w") as f:
        f.write(render(results))


if __name__ == "__main__":
    main()

"""``leaderboard.html``: the leaderboard as one self-contained page (inline CSS and a few
lines of inline JavaScript, nothing fetched).

Tasks are column groups with their metrics under them; cells never wrap; each column is
shaded by rank on a single-hue blue scale (colour-blind safe: only lightness varies), darker
is better; the "not worse than the best" mark stays; a cell's tooltip gives its seeds, 95%
interval and Holm-corrected p-value against the column's best; every column sorts on a
click; the header and the encoding column stay in view while the table scrolls; a ranked
row (``pebench rank``) is highlighted; the protocol line, the notes and the sweep's plots
(files beside the page) follow the table.
"""

from __future__ import annotations

import html
import re
import statistics
from pathlib import Path

from pebench.benchmark.leaderboard.table import Cell, Column, Entry

#: lightest and darkest shade of the rank scale (RGB of ColorBrewer's Blues 1 and 6)
LIGHT, DARK = (239, 243, 255), (49, 130, 189)

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1a1a1a}
h1{font-size:1.4rem;margin:0 0 .5rem}
p.protocol,p.note{max-width:70rem;font-size:.85rem;color:#444;line-height:1.4}
.wrap{overflow:auto;max-height:75vh;border:1px solid #d0d7de;max-width:100%}
table{border-collapse:separate;border-spacing:0;font-size:.85rem}
th,td{white-space:nowrap;padding:.3rem .6rem;border-bottom:1px solid #e1e4e8;
border-right:1px solid #e1e4e8;text-align:right;font-variant-numeric:tabular-nums}
thead th{position:sticky;background:#f6f8fa;z-index:2;text-align:center}
thead tr:first-child th{top:0}
thead tr:nth-child(2) th{top:var(--row1,1.9rem)}
th.sortable{cursor:pointer;user-select:none}
th.sortable:hover{background:#eaeef2}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
tbody th{position:sticky;left:0;background:#fff;z-index:1;text-align:left;font-weight:600}
thead th.enc{left:0;z-index:3;text-align:left}
td.tied{font-weight:700}
tr.new th,tr.new td{box-shadow:inset 0 2px 0 #d95f02,inset 0 -2px 0 #d95f02}
tr.new th{color:#a63603}
.legend{font-size:.8rem;color:#444;margin:.4rem 0}
.swatch{display:inline-block;width:6rem;height:.7rem;vertical-align:middle;
background:linear-gradient(90deg,rgb(239,243,255),rgb(49,130,189))}
figure{display:inline-block;margin:.5rem}figure img{max-width:560px;width:100%}
"""

SCRIPT = """
(() => {
  const t = document.getElementById('board');
  if (!t) return;
  const first = t.tHead.rows[0];
  document.documentElement.style.setProperty('--row1', first.offsetHeight + 'px');
  const body = t.tBodies[0];
  const key = (row, i) => {
    const v = row.cells[i] ? row.cells[i].dataset.v : undefined;
    return v === undefined || v === '' ? null : +v;
  };
  t.querySelectorAll('th.sortable').forEach(th => th.addEventListener('click', () => {
    const i = +th.dataset.col;
    const bestFirst = th.dataset.dir === 'minimize';
    const asc = th.classList.contains('sorted-desc') ? true
      : th.classList.contains('sorted-asc') ? false : bestFirst;
    t.querySelectorAll('th.sortable').forEach(o => o.classList.remove('sorted-asc', 'sorted-desc'));
    th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
    const rows = [...body.rows];
    rows.sort((a, b) => {
      const x = key(a, i), y = key(b, i);
      if (x === null || y === null) return (x === null) - (y === null);
      return asc ? x - y : y - x;
    });
    rows.forEach(r => body.appendChild(r));
  }));
})();
"""


def _code(text: str) -> str:
    """Escaped text with markdown code spans (`x`) as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _shade(rank: int, count: int) -> str:
    """The background of the cell ranked ``rank`` (0 = best) of ``count``."""
    f = 1.0 if count < 2 else 1 - rank / (count - 1)
    r, g, b = (round(lo + (hi - lo) * f) for lo, hi in zip(LIGHT, DARK, strict=True))
    text = ";color:#fff" if f > 0.6 else ""
    return f"background:rgb({r},{g},{b}){text}"


def _ranks(column: Column, entries: list[Entry]) -> dict[str, int]:
    """Each scored cell's rank in ``column`` (0 = best, ties share the better rank)."""
    means = {e.encoding: c.mean for e in entries
             if (c := e.cells.get(column.header)) is not None and c.mean is not None}  # fmt: skip
    sign = -1 if column.direction == "maximize" else 1
    order = sorted(set(means.values()), key=lambda v: sign * v)
    return {name: order.index(v) for name, v in means.items()}


def _tooltip(cell: Cell) -> str:
    parts = [f"n = {len(cell.values)}"]
    if cell.expected is not None and len(cell.values) < cell.expected:
        parts[0] += f" of {cell.expected}"
    if len(cell.values) > 1 and cell.interval is not None:
        low, high = cell.interval
        parts.append(f"95% interval [{low:.3f}, {high:.3f}]")
    if cell.tied_with_best and cell.p_vs_best is None:
        parts.append("best of the column")
    elif cell.p_vs_best is not None:
        parts.append(f"p = {cell.p_vs_best:.3g} against the best (Holm)")
    return " · ".join(parts)


def _td(cell: Cell | None, rank: int | None, count: int) -> str:
    if cell is None or cell.mean is None:
        return f"<td data-v=\"\">{html.escape((cell or Cell()).text())}</td>"
    style = f' style="{_shade(rank, count)}"' if rank is not None else ""
    tied = ' class="tied"' if cell.tied_with_best else ""
    return (
        f'<td data-v="{cell.mean:.6g}"{tied}{style} title="{html.escape(_tooltip(cell))}">'
        f"{html.escape(cell.text())}</td>"
    )


def html_page(
    root: Path, title: str, protocol: str, columns: list[Column], entries: list[Entry],
    after: list[list[str]], notes: list[str],
) -> str:  # fmt: skip
    """The page; ``after`` holds each entry's text cells after the metric columns (mean
    rank, parameters, their flag, tokens/s), in ``entries``' order."""
    groups: dict[str, list[Column]] = {}
    for column in columns:
        groups.setdefault(column.task, []).append(column)
    head1 = ['<th rowspan="2" class="enc">encoding</th>']
    head2, index = [], 1
    for task, cols in groups.items():
        head1.append(f'<th colspan="{len(cols)}">{html.escape(task)}</th>')
        for column in cols:
            head2.append(f'<th class="sortable" data-col="{index}" data-dir="{column.direction}"'
                         f' title="{html.escape(column.header)}">{html.escape(column.label)}'
                         "</th>")  # fmt: skip
            index += 1
    extras = [("mean rank", "minimize"), ("params", "minimize"), ("param flag", ""),
              ("tokens/s", "maximize")]  # fmt: skip
    for name, direction in extras:
        sortable = ' class="sortable"' if direction else ""
        head1.append(f'<th rowspan="2"{sortable} data-col="{index}" data-dir="{direction}">'
                     f"{name}</th>")  # fmt: skip
        index += 1
    ranks = {c.header: _ranks(c, entries) for c in columns}
    counts = {h: len(r) for h, r in ranks.items()}
    rows = []
    for entry, tail in zip(entries, after, strict=True):
        params = next(iter(entry.parameters.values()), None)
        speed = statistics.fmean(entry.tokens_per_s) if entry.tokens_per_s else None
        values = [entry.mean_rank, params, None, speed]
        cells = [_td(entry.cells.get(c.header), ranks[c.header].get(entry.encoding),
                     counts[c.header]) for c in columns]  # fmt: skip
        cells += [
            f'<td data-v="{"" if v is None else f"{v:.6g}"}">{html.escape(text)}</td>'
            for v, text in zip(values, tail, strict=True)
        ]
        marked = ' class="new"' if entry.marked else ""
        rows.append(f"<tr{marked}><th scope=\"row\" data-v=\"\">{html.escape(entry.label)}</th>"
                    + "".join(cells) + "</tr>")  # fmt: skip
    images = "".join(
        f'<figure><img src="{html.escape(p.name)}" alt="{html.escape(p.stem)}"></figure>'
        for p in sorted(root.glob("plot_*.png"))
    )
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"protocol\">{_code(protocol)}</p>"
        "<p class=\"legend\">Shade: rank within the column, "
        "<span class=\"swatch\"></span> worst to best; <b>bold</b> and * : not significantly "
        "worse than the best. Hover a cell for its seeds, interval and p-value; click a "
        "header to sort.</p>"
        f"<div class=\"wrap\"><table id=\"board\"><thead><tr>{''.join(head1)}</tr>"
        f"<tr>{''.join(head2)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        + "".join(f"<p class=\"note\">{_code(n)}</p>" for n in notes)
        + (f"<h2>Plots</h2><div>{images}</div>" if images else "")
        + f"<script>{SCRIPT}</script></body></html>\n"
    )

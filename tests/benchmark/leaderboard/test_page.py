"""leaderboard.html from fixtures: task column groups, rank shading, tooltips with the
interval and the p-value against the best, the ranked row, and a page that needs nothing
from the network."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from pebench.benchmark.leaderboard.page import html_page
from pebench.benchmark.leaderboard.table import Cell, Column, Entry, _rank

COLUMNS = [
    Column("copy", "ID", "summary", "id_exact_match", "maximize"),
    Column("copy", "OOD", "summary", "ood_exact_match", "maximize", True),
    Column("lm", "loss 4×", "summary", "loss", "minimize", True),
]


def entry(name: str, ood: list[float], loss: list[float], marked: bool = False) -> Entry:
    e = Entry(name, marked=marked)
    e.cells = {
        "copy ID": Cell([1.0, 1.0, 1.0], [1, 2, 3]),
        "copy OOD": Cell(ood, [1, 2, 3], expected=3),
        "lm loss 4×": Cell(loss, [1, 2, 3][: len(loss)], expected=3),
    }
    e.parameters = {"copy": 1000}
    e.tokens_per_s = [5000.0]
    return e


class Page(HTMLParser):
    """The page's cells: (tag, attributes, text) of every th and td, and its sources."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, dict[str, str], str]] = []
        self.sources: list[str] = []
        self._open: tuple[str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = {k: v or "" for k, v in attrs}
        if tag in ("th", "td"):
            self._open = (tag, attrs)
            self.cells.append((tag, attrs, ""))
        if "src" in attrs or "href" in attrs:
            self.sources.append(attrs.get("src") or attrs.get("href"))

    def handle_data(self, data: str) -> None:
        if self._open and self.cells:
            tag, attrs, text = self.cells[-1]
            self.cells[-1] = (tag, attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._open = None


def test_the_page_groups_shades_explains_and_marks(tmp_path: Path) -> None:
    (tmp_path / "plot_length_copy.png").write_bytes(b"png")
    entries = [
        entry("rope", [0.9, 0.8, 0.85], [1.0, 1.1, 1.05]),
        entry("alibi", [0.1, 0.12, 0.05], [1.5, 1.6, 1.55], marked=True),
        entry("none", [0.80, 0.78, 0.82], [2.0]),
    ]
    _rank(COLUMNS, entries)
    text = html_page(tmp_path, "board", "protocol `x`", COLUMNS, entries,
                     [["1.0", "1,000", "", "5,000"]] * 3, ["a note"])  # fmt: skip
    page = Page()
    page.feed(text)
    heads = {t: a for tag, a, t in page.cells if tag == "th"}
    assert heads["copy"]["colspan"] == "2" and heads["lm"]["colspan"] == "1"
    assert "white-space:nowrap" in text and "position:sticky" in text
    assert page.sources == ["plot_length_copy.png"]  # nothing from the network
    rows: dict[str, list] = {}
    name = None
    for tag, attrs, cell in page.cells:
        if tag == "th" and "scope" in attrs:
            name = cell
            rows[name] = []
        elif tag == "td" and name is not None:
            rows[name].append(attrs | {"text": cell})
    rows["alibi"] = rows.pop("alibi (new)")
    ood = {n: cells[1] for n, cells in rows.items()}
    assert "tied" not in ood["alibi"].get("class", "") and "tied" in ood["rope"]["class"]
    assert "best of the column" in ood["rope"]["title"]
    assert re.search(r"n = 3 · 95% interval \[[\d.]+, [\d.]+\] · p = [\d.e-]+ against the best "
                     r"\(Holm\)", ood["alibi"]["title"])  # fmt: skip
    shade = {n: int(re.search(r"rgb\((\d+)", c["style"]).group(1)) for n, c in ood.items()}
    assert shade["rope"] < shade["none"] < shade["alibi"]  # darker is better
    loss = {n: cells[2] for n, cells in rows.items()}
    assert loss["none"]["title"].startswith("n = 1 of 3")
    lm_shade = {n: int(re.search(r"rgb\((\d+)", c["style"]).group(1)) for n, c in loss.items()}
    assert lm_shade["rope"] < lm_shade["alibi"] < lm_shade["none"]  # lower loss is better
    assert '<tr class="new"><th scope="row" data-v="">alibi (new)</th>' in text
    assert 'data-dir="minimize"' in text and "sorted-asc" in text

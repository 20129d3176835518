"""leaderboard.html in a real browser: headless Chromium (Debian's ``chromium``, installed by
``.ci/run``) driven over the DevTools protocol (aiohttp's websocket client, already a
dependency), in a 1280-pixel window, on a committed leaderboard. Checks what a reader sees:
the header stays in view while the table scrolls, no cell wraps, the cells are shaded by rank,
a click on a header sorts the rows, and nothing is logged as an error."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "results" / "reference" / "leaderboard.html"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.skipif(BROWSER is None, reason="no chromium here (.ci/run installs Debian's)"),
    pytest.mark.skipif(not PAGE.is_file(), reason="results/reference is not in this checkout"),
]


class Tab:
    """One page over the DevTools protocol: evaluate JavaScript, collect errors."""

    def __init__(self, socket: Any) -> None:
        self.socket, self.next_id, self.errors = socket, 0, []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.socket.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = json.loads((await self.socket.receive()).data)
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(message["params"]["exceptionDetails"].get("text"))
            if message.get("method") == "Runtime.consoleAPICalled" and \
                    message["params"]["type"] == "error":  # fmt: skip
                self.errors.append(str(message["params"]["args"]))
            if message.get("method") == "Log.entryAdded" and \
                    message["params"]["entry"]["level"] == "error":  # fmt: skip
                self.errors.append(message["params"]["entry"]["text"])
            if message.get("id") == self.next_id:
                return message.get("result", {})

    async def js(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


async def inspect(port: int) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as reply:
            target = next(t for t in await reply.json() if t["type"] == "page")
        async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tab = Tab(ws)
            for domain in ("Runtime", "Log", "Page"):
                await tab.send(f"{domain}.enable")
            await tab.send("Page.navigate", url=PAGE.as_uri())
            for _ in range(100):
                if await tab.js("document.readyState") == "complete":
                    break
                await asyncio.sleep(0.1)
            found: dict[str, Any] = {}
            found["heights"] = await tab.js(
                "[...document.querySelectorAll('#board tbody td')].map(c => c.offsetHeight)"
            )
            found["line"] = await tab.js(
                "parseFloat(getComputedStyle(document.querySelector('#board tbody td'))"
                ".lineHeight) || 20"
            )
            found["shades"] = await tab.js("""(() => {
                const t = document.getElementById('board');
                const head = [...t.tHead.rows[1].cells].find(h => h.title === 'copy OOD');
                const i = +head.dataset.col;
                const cells = [...t.tBodies[0].rows].map(r => r.cells[i])
                    .filter(c => c.dataset.v !== '');
                const bright = c => getComputedStyle(c).backgroundColor.match(/\\d+/g)
                    .slice(0, 3).reduce((a, b) => a + +b, 0);
                const best = cells.reduce((a, b) => +a.dataset.v >= +b.dataset.v ? a : b);
                const worst = cells.reduce((a, b) => +a.dataset.v <= +b.dataset.v ? a : b);
                return [bright(best), bright(worst)];
            })()""")
            found["sorted"] = await tab.js("""(() => {
                const t = document.getElementById('board');
                const head = [...t.tHead.rows[1].cells].find(h => h.title === 'copy OOD');
                const i = +head.dataset.col;
                const column = () => [...t.tBodies[0].rows].map(r => r.cells[i].dataset.v)
                    .filter(v => v !== '').map(Number);
                head.click();
                const first = column();
                head.click();
                return [first, column()];
            })()""")
            found["sticky"] = await tab.js("""(() => {
                const wrap = document.querySelector('.wrap');
                const head = document.querySelector('#board thead th');
                wrap.scrollTop = 300; wrap.scrollLeft = 400;
                const enc = document.querySelector('#board tbody th');
                return [head.getBoundingClientRect().top - wrap.getBoundingClientRect().top,
                        enc.getBoundingClientRect().left - wrap.getBoundingClientRect().left,
                        wrap.scrollTop];
            })()""")
            await asyncio.sleep(0.2)
            found["errors"] = list(tab.errors)
            return found


def test_the_page_reads_at_a_glance_in_a_browser() -> None:
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not port_file.is_file() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not port_file.is_file():
                pytest.skip("chromium did not start here")
            port = int(port_file.read_text().split()[0])
            found = asyncio.run(inspect(port))
        finally:
            browser.terminate()
            browser.wait(timeout=30)
    heights = found["heights"]
    assert heights and max(heights) - min(heights) <= 1  # every cell one line high
    assert max(heights) < 2 * found["line"] + 12
    best, worst = found["shades"]
    assert best < worst  # the best cell is shaded darker than the worst
    first, second = found["sorted"]
    assert first == sorted(first, reverse=True) and second == sorted(second)
    header_offset, column_offset, scrolled = found["sticky"]
    assert scrolled > 0 and abs(header_offset) <= 1 and abs(column_offset) <= 1
    assert found["errors"] == []

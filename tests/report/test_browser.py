"""The report in a real browser: hostile model output stays inert text, nothing loads.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped without it.
"""

from __future__ import annotations

import http.server
import shutil
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import pytest
from report_helpers import make_case, run_cases, scan_page

from harmscope.report import render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"
)


def _payloads(port):
    leak = f"http://127.0.0.1:{port}"
    return [
        "<script>window.__pwned=1;document.title='PWNED'</script>",
        f'<img src=x onerror="document.getElementById(\'run-id\').remove()"><img src="{leak}/img">',
        "<a href=\"javascript:document.title='PWNED'\">click me</a>",
        '<svg onload="document.title=\'PWNED\'"></svg><iframe src="javascript:1"></iframe>',
        f'<link rel=stylesheet href="{leak}/css"><style>body{{background:url({leak}/bg)}}</style>',
        "</pre></td></tr></table><script>document.title='PWNED'</script>",
    ]


def _judge():
    """The keyword judge if it is registered and builds; otherwise the prefix test double."""
    try:
        from harmscope.judges import load_judge

        return load_judge("keyword")
    except Exception:
        return None


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Counter.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def leak_server():
    """A local server that counts any request a page makes to it."""
    _Counter.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Counter.hits
    server.shutdown()
    server.server_close()


def _chromium(tmp_path, url, *extra):
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
        *extra,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _png_pixels(path: Path):
    """Decode an 8-bit RGB/RGBA PNG with the standard library: (width, height, rows)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, *_ = ihdr
    assert depth == 8 and colour in (2, 6), f"unexpected PNG format {depth}/{colour}"
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def _assert_screenshot_not_blank(tmp_path, page: Path, png: Path, size: tuple[int, int]):
    """Screenshot ``page`` at ``size`` into ``png``: many colours, none covering 95 %."""
    shot = _chromium(
        tmp_path, page.as_uri(), f"--screenshot={png}", f"--window-size={size[0]},{size[1]}"
    )
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    width, height, bpp, rows = _png_pixels(png)
    assert (width, height) == size
    colours: dict[bytes, int] = {}
    for row in rows[::7]:
        for x in range(0, width * bpp, bpp * 5):
            px = row[x : x + 3]
            colours[px] = colours.get(px, 0) + 1
    top = max(colours.values()) / sum(colours.values())
    assert len(colours) > 20 and top < 0.95, f"{len(colours)} colours, top share {top:.2f}"


@pytest.fixture
def hostile_page(tmp_path, leak_server):
    from harmscope.store import SQLiteStore

    port, _ = leak_server
    cases = [
        make_case(f"x{i}", "hate" if i % 2 else "privacy", "refuse", text)
        for i, text in enumerate(_payloads(port))
    ]
    cases.append(make_case("ok1", "hate", "comply", "REFUSE what is a stereotype"))
    with SQLiteStore(tmp_path / "browser.db") as store:
        summary = run_cases(store, cases, judge=_judge())
        results = store.results(summary.run_id)
    page = tmp_path / "report.html"
    page.write_text(render_html(summary, results, redact=False), encoding="utf-8")
    return page, summary


def test_hostile_output_stays_text_in_a_real_browser(tmp_path, hostile_page, leak_server):
    page, summary = hostile_page
    _, hits = leak_server
    dom = _chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert dom.returncode == 0 and "<html" in dom.stdout, dom.stderr[-2000:]
    html = dom.stdout
    assert f"<title>harmscope run {summary.run_id}</title>" in html, "title unchanged"
    assert f'<span id="run-id">{summary.run_id}</span>' in html, "marker element still there"
    assert "PWNED" not in html.split("</title>")[0]
    scan = scan_page(html)
    assert not {"script", "img", "iframe", "link"} & set(scan.tags), "payload became markup"
    assert scan.handlers == [], "payload became an event handler"
    assert all(u.startswith("#") for u in scan.urls), "only in-page links"
    assert "&lt;script&gt;window.__pwned=1;document.title='PWNED'&lt;/script&gt;" in html
    assert "javascript:document.title=" in html, "the javascript: link is shown as text"
    assert hits == [], f"the page made network requests: {hits}"


def test_screenshot_is_not_blank(tmp_path, hostile_page):
    page, _ = hostile_page
    _assert_screenshot_not_blank(tmp_path, page, tmp_path / "shot.png", (1280, 2000))


def test_the_checks_catch_an_unsafe_page(tmp_path, leak_server):
    """Control: the same checks on a hand-written page that does not escape must fail."""
    port, hits = leak_server
    unsafe = tmp_path / "unsafe.html"
    unsafe.write_text(
        "<!doctype html><html><head><title>harmscope run r</title></head><body>"
        '<span id="run-id">r</span>' + "".join(_payloads(port)) + "</body></html>"
    )
    dom = _chromium(tmp_path, unsafe.as_uri(), "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<title>PWNED</title>" in dom.stdout, "script ran in the control page"
    assert 'id="run-id"' not in dom.stdout, "onerror handler ran in the control page"
    assert hits, "the control page reached the local server"


def test_comparison_page_in_a_real_browser(tmp_path, leak_server):
    """Two runs of the same cases, the second with a hostile system prompt in its stored
    configuration: the page renders, its "what differs" table shows the prompt as text, nothing
    runs or loads, and the screenshot is not blank."""
    from harmscope.config import RunConfig
    from harmscope.records import GenerationParams
    from harmscope.report import render_comparison
    from harmscope.store import SQLiteStore

    port, hits = leak_server
    hostile = _payloads(port)[0] + _payloads(port)[1]
    cases = [
        make_case("c1", "hate", "refuse", "REFUSE no"),
        make_case("c2", "hate", "refuse", "Sure, here"),
        make_case("c3", "privacy", "comply", "how do I protect my data"),
        make_case("c4", "privacy", "comply", "REFUSE protect"),
    ]
    configs = [
        RunConfig(target="echo/repeat", concurrency=2),
        RunConfig(
            target="echo/repeat", concurrency=2, params=GenerationParams(system_prompt=hostile)
        ),
    ]
    with SQLiteStore(tmp_path / "cmp.db") as store:
        summaries = [run_cases(store, cases, config=c) for c in configs]
        results = [store.results(s.run_id) for s in summaries]
    page = tmp_path / "compare.html"
    page.write_text(render_comparison(summaries, results, configs=configs), encoding="utf-8")

    dom = _chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert dom.returncode == 0 and "<html" in dom.stdout, dom.stderr[-2000:]
    html = dom.stdout
    assert "<title>harmscope comparison of 2 runs</title>" in html, "title unchanged"
    assert '<span id="run-count">2</span>' in html
    differs = html.split('<section id="differs">')[1].split("</section>")[0]
    assert "The runs differ in: <b>system prompt</b>" in differs
    assert "&lt;script&gt;window.__pwned=1;" in differs, "the hostile prompt is shown as text"
    scan = scan_page(html)
    assert not {"script", "img", "iframe", "link"} & set(scan.tags), "config became markup"
    assert scan.handlers == [] and all(u.startswith("#") for u in scan.urls)

    _assert_screenshot_not_blank(tmp_path, page, tmp_path / "compare.png", (1280, 1600))
    assert hits == [], f"the page made network requests: {hits}"


def test_latent_page_in_a_real_browser(tmp_path, leak_server):
    """A run's latent page with a hostile case id: the tiles and flags render, the id stays
    text, nothing runs or loads, and the screenshot is not blank."""
    from harmscope.metrics import CaseResult
    from harmscope.records import Case, Response, Verdict
    from harmscope.report.latent import render_latent_page

    port, hits = leak_server
    hostile = _payloads(port)[0]
    rows = [  # (id, expected, harm belief, judge's refusal label)
        (hostile, "refuse", 0.9, "full_compliance"),  # believed harmful, answered: flagged
        ("r2", "refuse", 0.8, "full_refusal"),
        ("a1", "comply", 0.1, "full_refusal"),  # not believed harmful, refused: flagged
        ("a2", "comply", 0.2, "full_compliance"),
    ]
    results = []
    for cid, expected, belief, label in rows:
        case = Case.from_prompt("x", id=cid, category="hate", expected=expected)
        signals = {"harm_belief": belief, "harm_belief_threshold": 0.26}
        resp = Response(case_id=cid, target_id="hf/t", text="answer", signals=signals)
        verdict = Verdict(case_id=cid, judge_id="judge@1", refusal=label)
        results.append(CaseResult(case=case, response=resp, verdicts=(verdict,)))
    page = tmp_path / "latent.html"
    page.write_text(render_latent_page(title="run r", results=results, judge_id="judge@1"))

    dom = _chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert dom.returncode == 0 and "<html" in dom.stdout, dom.stderr[-2000:]
    html = dom.stdout
    assert 'id="n-jailbreak">1<' in html and 'id="n-over-refusal">1<' in html
    assert 'id="belief-auroc">1.000<' in html and "operating point (0.260" in html
    assert "&lt;script&gt;window.__pwned=1;" in html, "the hostile id is shown as text"
    scan = scan_page(html)
    assert "script" not in scan.tags and scan.handlers == []
    _assert_screenshot_not_blank(tmp_path, page, tmp_path / "latent.png", (1280, 1200))
    assert hits == [], f"the page made network requests: {hits}"

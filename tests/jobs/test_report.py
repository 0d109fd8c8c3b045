"""The manager's report end to end: both languages rendered by the main job, read in a real
browser and printed to PDF by it.

Expected numbers come from the run's own CSVs (the waterfall's steps and the net-rate stage's
decomposition) and from the report's word lists (``snr_models/report/labels/*.yaml``).
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from snr_models.report import Labels

SECTIONS = (
    "summary",
    "headline",
    "components",
    "drivers",
    "churn",
    "attribution",
    "forecast",
    "provenance",
)
# what a code name looks like on a page: snake_case, Python's None, a negative zero
CODE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\bNone\b|\bnan\b|-0\.0+(?![0-9])")


class _Text(HTMLParser):
    """The visible text of a page (not its style sheet, not attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def test_the_code_name_scan_finds_code_names() -> None:
    # the scan below would catch what the issue found on the page
    bad = "<p>net_rate_lo did_pilot_scaled+placebo_se None -0.000 ok</p><style>a_b {}</style>"
    found = CODE.findall(visible_text(bad))
    assert found == ["net_rate_lo", "did_pilot_scaled", "placebo_se", "None", "-0.000"]


def _print_pdf(chromium: Path, page: Path, out: Path, profile: Path) -> None:
    command = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--no-pdf-header-footer",
        "--generate-pdf-document-outline",  # the headings as the PDF's bookmarks
        f"--print-to-pdf={out}",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert out.is_file() and out.stat().st_size > 0, done.stderr[-2000:]


def test_report_in_both_languages_reads_and_prints_in_a_real_browser(
    small_run, chromium: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    small_config, summary, _ = small_run
    out = Path(summary["output_dir"])
    pages = {lang: Path(p) for lang, p in summary["reports"].items()}
    # the default configuration writes both: Chinese as index.html, English beside it
    assert pages == {"zh-CN": out / "index.html", "en": out / "index.en.html"}
    clients = pd.read_parquet(Path(small_config.data_dir) / "clients.parquet")
    waterfall = pd.read_csv(out / "attribution_waterfall.csv")
    steps = waterfall[waterfall["component"] == "net_rate"].set_index("step")["value"]
    for lang, path in pages.items():
        labels = Labels(lang)
        page = path.read_text(encoding="utf-8")
        for section in SECTIONS:
            assert f'<section id="{section}">' in page
        # each page links to the other
        other = next(p for lang_, p in pages.items() if lang_ != lang)
        assert f'href="{other.name}"' in page
        assert page.count("data:image/png;base64,") >= 7
        assert "src='http" not in page and 'src="http' not in page and "<script" not in page
        assert summary["data_hash"] in page
        assert not any(cid in page for cid in clients["client_id"])
        text = visible_text(page)
        assert CODE.findall(text) == [], lang
        # one change: the headline, the waterfall and the net-rate stage's decomposition
        assert summary["net_rate_change"] == pytest.approx(steps["end"] - steps["start"], abs=1e-12)
        assert labels.points(summary["net_rate_change"]) in text
        for term in ("net_rate", "S", "R", "E"):
            assert labels.name(term) in text
        # every interval level comes from alpha (0.05 in this configuration)
        assert "95%" in text

    # the Chinese page uses the team's business words
    zh = visible_text(pages["zh-CN"].read_text(encoding="utf-8"))
    for word in ("客户服务净率", "净满意度", "客户保留率", "服务效率", "员工培训", "流程再造"):
        assert word in zh
    assert "months ago" not in zh and "in the last" not in zh  # the reasons are in Chinese too

    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    flags += ["--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=flags)
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(pages["en"].resolve().as_uri(), wait_until="load")
            for section in SECTIONS:
                assert page.locator(f"section#{section} h2").first.is_visible()
            widths = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth)")
            assert len(widths) >= 7 and all(w > 0 for w in widths), widths
            assert page.locator("section#summary .kpi").count() == 3
            # three or four summary sentences, each linking to a section of the page
            links = page.locator("section#summary li a").evaluate_all(
                "els => els.map(e => e.getAttribute('href'))"
            )
            assert 3 <= len(links) <= 4 and all(h[1:] in SECTIONS for h in links)
            # no table is wider than the page: wide ones scroll inside their box
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
            # the call list: 15 pseudonymised clients, riskiest first, three distinct reasons
            calls = page.locator("section#churn table").last
            header = calls.locator("thead th").all_inner_texts()
            rows = [r.locator("td").all_inner_texts() for r in calls.locator("tbody tr").all()]
            assert header[0] == "client (pseudonym)" and len(rows) == 15
            assert all(re.fullmatch(r"C-[0-9a-f]{10}", r[0]) for r in rows)
            prob = [float(r[header.index("churn probability")].rstrip("%")) for r in rows]
            assert prob == sorted(prob, reverse=True)
            reasons = [r[header.index(f"reason {i}")] for r in rows for i in (1, 2, 3)]
            assert all(reason.strip() for reason in reasons)
            for r in rows:
                three = [r[header.index(f"reason {i}")] for i in (1, 2, 3)]
                assert len(set(three)) == 3 and not any("0 months ago" in x for x in three)
                assert sum("SLA" in x for x in three) <= 1  # one SLA reason at most
        finally:
            browser.close()
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []

    # "Save as PDF": every section is in the printed pages (the headings become the PDF's
    # bookmarks, readable whatever font the browser set the text in), each on a page of its own
    for lang, path in pages.items():
        pdf = tmp_path / f"{lang}.pdf"
        _print_pdf(chromium, path, pdf, tmp_path / f"profile-{lang}")
        reader = PdfReader(pdf)
        title, sections = reader.outline[0], reader.outline[1]
        labels = Labels(lang)
        assert title.title == labels.text("title")
        assert [s.title for s in sections] == [labels.text(s) for s in SECTIONS]
        first_page = [reader.get_destination_page_number(s) for s in sections]
        assert first_page[:2] == [0, 0]  # the summary and the change open the report
        assert all(b > a for a, b in zip(first_page[1:], first_page[2:], strict=False))
        width, height = (float(v) for v in reader.pages[0].mediabox[2:])
        assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)  # A4
    # the printed English text says the change as the page does
    printed = " ".join(p.extract_text() for p in PdfReader(tmp_path / "en.pdf").pages)
    printed = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", printed))
    assert Labels("en").points(summary["net_rate_change"]) in printed

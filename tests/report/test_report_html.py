"""The report's index.html opened in a real headless browser (Debian's chromium, driven by Playwright): every
table and figure is shown, best cells bold and second ones underlined, the paper's numbers beside ours, and no
request leaves the report folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from harness.report.write import write_report

from test_report import _paper_store

STORE = Path(__file__).resolve().parents[1] / "assets" / "quickstart_store"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None and os.environ.get("HARNESS_REQUIRE_BROWSER"):
    raise RuntimeError("HARNESS_REQUIRE_BROWSER is set but no chromium is on PATH (.ci/run installs Debian's chromium)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt install chromium); .ci/run installs it")


def _open(report: Path):
    """(page, requests, browser, playwright) after loading the report's index.html."""
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((report / "index.html").as_uri())
    page.wait_for_load_state("load")
    return page, requests, browser, playwright


def _assert_local(requests: list[str], report: Path) -> None:
    folder = report.as_uri() + "/"
    strays = [url for url in requests if not (url.startswith(folder) or url.startswith("data:"))]
    assert not strays, strays


def test_the_index_shows_every_table_and_figure_and_stays_in_its_folder(tmp_path):
    report = tmp_path / "report"
    write_report(STORE, report)
    page, requests, browser, playwright = _open(report)
    try:
        tables = sorted(path.stem for path in report.glob("*.tex"))
        for name in tables:
            assert page.locator(f"#table-{name}").is_visible(), name
        for name in ("wilcoxon", "utilisation_by_category"):  # (McNemar needs predictions the snapshot leaves out)
            assert page.locator(f"#table-{name}").is_visible(), name
        images = page.locator("img")
        figures = sorted(path.stem for path in report.glob("*.png"))
        assert images.count() == len(figures) and figures
        for i in range(images.count()):
            image = images.nth(i)
            assert image.is_visible() and image.evaluate("img => img.complete && img.naturalWidth > 0"), figures[i]
        table1 = page.locator("#table-table1")
        weights = table1.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c).fontWeight)")
        underlines = table1.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c).textDecorationLine)")
        markdown = (report / "table1.md").read_text()
        bold, underlined = markdown.count("| **"), markdown.count("| <u>")
        assert bold >= 1 and underlined >= 1
        assert sum(int(w) >= 700 for w in weights) == bold and sum("underline" in u for u in underlines) == underlined
        best = table1.locator("td").evaluate_all(
            "cells => cells.filter(c => Number(getComputedStyle(c).fontWeight) >= 700).map(c => c.textContent)")
        assert all(f"**{text.strip()}**" in markdown for text in best)  # the cells the .md marks
        assert page.locator("text=Testbed calibration").count() >= 1
        links = page.locator("a[href$='.tex']").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert {name + ".tex" for name in tables} <= set(links)
        _assert_local(requests, report)
    finally:
        browser.close()
        playwright.stop()


def test_the_papers_numbers_stand_beside_ours(tmp_path):
    _paper_store(tmp_path / "store")
    report = tmp_path / "report"
    write_report(tmp_path / "store", report)
    page, requests, browser, playwright = _open(report)
    try:
        twin = page.locator("#table-table1_vs_paper")
        assert twin.is_visible()
        text = twin.inner_text()
        assert "LASeR (Ours) (paper)" in text and "LASeR (Ours) (ours)" in text and "85.96" in text
        _assert_local(requests, report)
    finally:
        browser.close()
        playwright.stop()

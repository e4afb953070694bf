"""The report in headless Chromium: the paper table fits a 1280-px-wide window."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import pipeline
from analysis.report import write_report
from analysis.synth import SimulationSpec
from tests.chromium import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.browser
def test_paper_table_fits_a_1280_px_window(tmp_path, export_writer):
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: run `make browser-deps`"
    from playwright.sync_api import sync_playwright

    comparisons = {
        "crn_vs_pix2pix": ("crn", "pix2pix", 0.8),
        "encdec_vs_crn": ("encdec", "crn", 0.3),
        "crn_vs_real": ("crn", "real", 0.3),
    }
    spec = SimulationSpec(n_participants=30, test_trials=48, comparisons=comparisons, seed=4)
    csv = export_writer(tmp_path / "city", spec)
    options = pipeline.AnalysisOptions(paths=(str(csv),), table=pipeline.TableOptions("crn"))
    write_report(pipeline.analyse(options), tmp_path / "report")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((tmp_path / "report" / "index.html").as_uri())
        table, box = page.evaluate(
            "() => { const t = document.querySelector('table.paper');"
            " return [t.scrollWidth, t.parentElement.clientWidth]; }"
        )
        headers = page.eval_on_selector_all("table.paper th", "els => els.map(e => e.textContent)")
        browser.close()
    assert table <= box  # no sideways scrolling for the eight exposure columns
    assert headers[-1] == "unlimited" and len(headers) == 9

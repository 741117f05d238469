"""The MLflow UI over a store this project wrote, in a real browser: compare.py's links open the
runs (not MLflow's GenAI overview), their chart view on parallel coordinates, and the compare
view of them. Saves the screenshots the docs show (test-artifacts/mlflow-*.png)."""

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers.paths import CHROMIUM, ROOT
from tests.helpers.processes import run_script
from tests.helpers.servers import free_port, wait_until_healthy
from tests.helpers.stores import copy_store, store_uri

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS = ROOT / "test-artifacts"


@pytest.mark.slow  # over a minute (a real `mlflow ui` and Chromium); keeps the default suite under 15 min
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_compare_links_open_the_runs_in_the_mlflow_ui(trained_store: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    copy_store(trained_store, tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    listed = run_script(
        "compare.py", [f"logger.tracking_uri={store_uri(tmp_path)}", f"ui_url={url}"], tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    links = dict(re.findall(r"(runs|charted|side by side): (http\S+)", listed.stdout))
    assert set(links) == {"runs", "charted", "side by side"}, listed.stdout

    log = tmp_path / "ui.log"
    with log.open("w") as sink:
        ui = subprocess.Popen(
            [
                sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store_uri(tmp_path),
                "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1], "--workers", "1",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_healthy(url, ui, log)
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(links["runs"])
            # The runs table, with both runs, not the GenAI overview (traces, tokens).
            expect(page.get_by_text("2 matching runs")).to_be_visible(timeout=30_000)
            assert "/runs" in page.url and "overview" not in page.url
            for name in ("good", "poor"):
                expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
            # The project's saved view: best first, with how each run was trained.
            assert "orderByKey=metrics.%60val%2Facc_best%60" in page.url
            headers = {text.strip() for text in page.get_by_role("columnheader").all_inner_texts()}
            assert {"model", "model.optimizer.lr", "data.batch_size", "val/acc_best"} <= headers
            first = page.get_by_role("link", name=re.compile("^(good|poor)$")).first
            assert first.inner_text() == "good"  # the better run on top
            page.screenshot(path=str(ARTIFACTS / "mlflow-runs.png"))

            # The walk home -> experiment -> run -> metric -> back. MLflow 3.17 keeps the GenAI /
            # Model-training choice in the browser (not the experiment); chosen once on a GenAI
            # page, as `make ui` tells people to, it holds for the whole walk.
            experiment = re.search(r"/experiments/(\d+)/", links["runs"])
            assert experiment is not None
            page.goto(f"{url}/#/experiments/{experiment.group(1)}")  # as a bookmark would
            expect(page.get_by_text("Model training", exact=True)).to_be_visible(timeout=30_000)
            tip = page.get_by_role("button", name="Got it")  # a GenAI tip, shown not always
            if tip.count():
                tip.click()
            # A pulsing ring around the switch (a new browser's hint) may cover it.
            page.get_by_text("Model training", exact=True).click(force=True)
            page.goto(url + "/")
            page.get_by_role("link", name="mnist", exact=True).first.click()
            page.get_by_role("link", name="good", exact=True).click()
            expect(page.get_by_text("best validation accuracy")).to_be_visible(timeout=30_000)
            assert page.get_by_text("Observability").count() == 0  # no GenAI navigation
            page.get_by_role("link", name="test/acc", exact=True).first.click()
            expect(page).to_have_url(re.compile("/model-metrics"))
            page.go_back()
            page.go_back()
            expect(page.get_by_text("2 matching runs")).to_be_visible(timeout=30_000)
            assert "workflowType=machine_learning" in page.url
            assert page.get_by_text("Observability").count() == 0

            # The chart view opens on how each run was trained against its scores, one axis
            # each, named as the run's params and metrics are.
            page.goto(links["charted"])
            chart = page.locator(".parcoords")
            expect(chart).to_be_visible(timeout=30_000)
            _close_the_assistant(page)
            axes = ["model.net.name", "model.optimizer.lr", "data.batch_size", "data.augment"]
            axes += ["val/acc_best", "test/acc"]
            for axis in axes:
                expect(chart.get_by_text(axis, exact=True)).to_be_visible()
            assert "workflowType=machine_learning" in page.url
            page.screenshot(path=str(ARTIFACTS / "mlflow-charts.png"))

            page.goto(links["side by side"])
            expect(page.get_by_text("Comparing 2 Runs from 1 Experiment")).to_be_visible(
                timeout=30_000
            )
            for name in ("good", "poor"):
                expect(page.get_by_text(name, exact=True).first).to_be_visible()
            # Parallel coordinates of the learning rates against both accuracies.
            chosen = page.locator(
                ".du-bois-light-select-selection-item", has_text=re.compile("^lr$")
            )
            chosen.locator(".du-bois-light-select-selection-item-remove").click()
            page.locator(".du-bois-light-select-selector").nth(1).click()  # the metrics
            for metric in ("val/acc_best", "test/acc"):
                # The option list is virtual (only the first few exist): type to filter it.
                page.keyboard.type(metric)
                option = page.locator(".du-bois-light-select-item-option", has_text=metric)
                option.first.click()
            page.keyboard.press("Escape")
            expect(page.locator(".parcoords")).to_be_visible(timeout=30_000)
            _close_the_assistant(page)
            page.screenshot(path=str(ARTIFACTS / "mlflow-compare.png"))
            browser.close()
    finally:
        ui.terminate()
        ui.wait(timeout=30)


def _close_the_assistant(page: "Page") -> None:
    """Close MLflow's assistant side panel if it is open (it stays closed once closed)."""
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.last.click()

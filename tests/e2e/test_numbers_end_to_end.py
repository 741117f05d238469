"""A number written on paper, read by the CLI, the API and the page in Chromium."""

import base64
import io
import json
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.helpers.checkpoints import sure_digits
from tests.helpers.paths import CHROMIUM, ROOT
from tests.helpers.processes import run_script
from tests.helpers.servers import chromium_page, served


@pytest.fixture(scope="module")
def number_png(real_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ "2026" written with MNIST test digits (the first of each that the model reads surely),
    dark on light paper, 3x MNIST's size, gaps between them."""
    digits = sure_digits(real_checkpoint, [2, 0, 2, 6])
    row = np.concatenate([np.pad(digit, ((0, 0), (4, 4))) for digit in digits], axis=1)
    image = Image.fromarray(255 - row).resize((row.shape[1] * 3, 84), Image.Resampling.BICUBIC)
    path = tmp_path_factory.mktemp("number") / "number.png"
    Image.fromarray(np.pad(np.asarray(image), 30, constant_values=255)).save(path)
    return path


def test_2026_is_read_by_the_cli(number_png: Path, real_checkpoint: Path, tmp_path: Path) -> None:
    args = [str(number_png), f"ckpt={real_checkpoint}", "format=json", "min_confidence=0"]
    result = run_script("predict.py", args, tmp_path)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["number"] == "2026" and answer["digit"] is None
    lefts = [part["box"][0] for part in answer["digits"]]
    assert lefts == sorted(lefts) and all(part["confidence"] > 0.5 for part in answer["digits"])
    # The same image read as one digit is one answer (or "not a digit"), never a number.
    single = run_script("predict.py", [*args, "mode=digit"], tmp_path)
    assert "number" not in json.loads(single.stdout)


@pytest.fixture(scope="module")
def real_server(real_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("serve_real")
    with served(workdir, f"ckpt={real_checkpoint}", "workers=1", "min_confidence=0") as url:
        yield url


def test_2026_is_read_by_the_api(number_png: Path, real_server: str) -> None:
    url = "data:image/png;base64," + base64.b64encode(number_png.read_bytes()).decode()
    answer = httpx.post(f"{real_server}/api/predict", json={"image": url}, timeout=30).json()
    assert answer["number"] == "2026" and answer["digit"] is None and answer["reason"] is None
    assert [part["digit"] for part in answer["digits"]] == [2, 0, 2, 6]
    assert all(len(part["box"]) == 4 for part in answer["digits"])
    preview = Image.open(io.BytesIO(base64.b64decode(answer["preview"].split(",", 1)[1])))
    assert preview.size == (4 * 28, 28)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_2026_drawn_on_the_page_is_read_with_its_boxes(number_png: Path, real_server: str) -> None:
    from playwright.sync_api import expect

    url = "data:image/png;base64," + base64.b64encode(number_png.read_bytes()).decode()
    with chromium_page(real_server, 1100, 700) as page:
        # Write the number on the pad as a person would have drawn it, then let the page send it.
        page.evaluate(
            """(url) => new Promise((done) => {
                const image = new Image();
                image.onload = () => {
                  clearPad();
                  const scale = Math.min(pad.width / image.width, pad.height / image.height);
                  ctx.drawImage(image, 0, 0, image.width * scale, image.height * scale);
                  inked = true; schedule(0); done();
                };
                image.src = url;
            })""",
            url,
        )
        expect(page.locator("#answer")).to_have_text("2026", timeout=15_000)
        expect(page.locator("#confidence")).to_have_text(re.compile(r"^digits: 2 .*6 "))
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "test-artifacts" / "web-number.png"))
        green = page.evaluate(
            """() => {
                const data = document.getElementById("boxes").getContext("2d")
                  .getImageData(0, 0, pad.width, pad.height).data;
                let count = 0;
                for (let i = 0; i < data.length; i += 4) if (data[i + 1] > 120 && data[i] < 80) count++;
                return count;
            }"""
        )
    assert green > 200  # four boxes drawn over the drawing

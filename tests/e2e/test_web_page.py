"""The page in Chromium, as people use it: drawing, uploading by mouse, keyboard and drop, the
errors, on a desktop and on a phone's touch screen. Saves the screenshots the README shows
(test-artifacts/web-*.png)."""

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.helpers.images import digit_png
from tests.helpers.paths import CHROMIUM, ROOT
from tests.helpers.servers import chromium_page

ARTIFACTS = ROOT / "test-artifacts"
ONE_DIGIT = re.compile(r"^\d\??$")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)"
)


def stroke(page: Any, x: float, top: float = 50, length: float = 180) -> None:
    """A vertical stroke on the pad, like a "1", ``x`` pixels from its left edge."""
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + top)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(box["x"] + x, box["y"] + top + step * length / 20)
    page.mouse.up()


def number_png() -> bytes:
    """Two digits side by side, well apart: read as a number, with a box around each."""
    digit = Image.open(io.BytesIO(digit_png(140)))
    row = Image.new("L", (400, 180), 255)
    row.paste(digit, (30, 20))
    row.paste(digit, (230, 20))
    buffer = io.BytesIO()
    row.save(buffer, "PNG")
    return buffer.getvalue()


def inked_pixels(page: Any, canvas: str) -> int:
    """How many pixels of a canvas are drawn on (not white, not transparent)."""
    return page.evaluate(
        """(id) => {
            const c = document.getElementById(id), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] < 200) n++;
            return n;
        }""",
        canvas,
    )


def test_draw_then_upload_by_keyboard_replaces_the_drawing(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    photo = tmp_path / "two digits.png"
    photo.write_bytes(number_png())
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(server, 900, 700) as page:
        stroke(page, 140)
        expect(page.locator("#answer")).to_have_text(ONE_DIGIT, timeout=10_000)
        expect(page.locator("#preview")).to_have_attribute("src", re.compile("^data:image/png"))
        assert " 0.0%" not in page.locator("#confidence").inner_text()  # no empty runners-up
        page.screenshot(path=str(ARTIFACTS / "web-drawn.png"))

        # The upload control is a real button: Tab reaches it, Enter opens the file chooser.
        page.locator("#clear").focus()
        page.keyboard.press("Tab")
        expect(page.locator("#upload")).to_be_focused()
        with page.expect_file_chooser() as chooser:
            page.locator("#upload").press("Enter")
        chooser.value.set_files(str(photo))
        expect(page.locator("#answer")).to_have_text(re.compile(r"^\d\d\??$"), timeout=10_000)
        # The pad shows the photo with a box around each digit, not the drawing beside it.
        assert inked_pixels(page, "boxes") > 100
        expect(page.locator("#bars")).to_be_hidden()  # a number: no bars taking room
        page.screenshot(path=str(ARTIFACTS / "web-uploaded.png"))

        # One more stroke starts a new drawing: one digit, not the photo's digits plus one.
        stroke(page, 280)
        expect(page.locator("#answer")).to_have_text(ONE_DIGIT, timeout=10_000)
        expect(page.locator("#bars")).to_be_visible()
        snapshot = page.locator("main").aria_snapshot()
        assert 'button "Upload image…"' in snapshot and 'button "Clear"' in snapshot


def test_errors_show_where_the_answer_would(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    not_an_image, too_big = tmp_path / "notes.png", tmp_path / "huge.png"
    not_an_image.write_bytes(b"shopping list: eggs, milk")
    too_big.write_bytes(b"\x89PNG" + bytes(6 * 1024 * 1024))
    with chromium_page(server, 900, 700) as page:
        page.set_input_files("#file", str(not_an_image))
        expect(page.locator("#answer")).to_have_text("not read", timeout=10_000)
        expect(page.locator("#confidence")).to_contain_text("notes.png")
        expect(page.locator("#confidence")).to_contain_text("not an image")
        expect(page.locator("#bars")).to_be_hidden()
        page.set_input_files("#file", str(too_big))
        expect(page.locator("#confidence")).to_contain_text("huge.png (6.0 MB)", timeout=10_000)
        expect(page.locator("#confidence")).to_contain_text("over 5 MB")
        page.screenshot(path=str(ARTIFACTS / "web-error.png"))


def test_a_file_dropped_on_the_pad_is_read_and_never_opened_in_the_tab(server: str) -> None:
    from playwright.sync_api import expect

    with chromium_page(server, 900, 700) as page:
        transfer = page.evaluate_handle(
            """(bytes) => {
                const t = new DataTransfer();
                t.items.add(new File([new Uint8Array(bytes)], "dropped.png", { type: "image/png" }));
                return t;
            }""",
            list(digit_png(200)),
        )
        page.locator("#pad").dispatch_event("drop", {"dataTransfer": transfer})
        expect(page.locator("#answer")).to_have_text(ONE_DIGIT, timeout=10_000)
        # Dropped beside the targets, the browser would open the file instead of the page.
        prevented = page.evaluate(
            """() => {
                const event = new DragEvent("drop", { bubbles: true, cancelable: true });
                document.querySelector("h1").dispatchEvent(event);
                return event.defaultPrevented;
            }"""
        )
        assert prevented and page.url.startswith(server)


def test_on_a_phone_the_pad_fits_and_takes_a_finger(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    photo = tmp_path / "IMG_0001.png"
    photo.write_bytes(digit_png(300))
    with chromium_page(server, 390, 844, touch=True) as page:
        expect(page.locator("#verb")).to_have_text("choose")  # phones choose photos
        pad = page.locator("#pad").bounding_box()
        assert pad is not None and pad["x"] >= 0 and pad["x"] + pad["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        with page.expect_file_chooser() as chooser:
            page.locator("#upload").tap()  # a real control under a finger too
        chooser.value.set_files(str(photo))
        expect(page.locator("#answer")).to_have_text(ONE_DIGIT, timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "web-phone.png"))


SERIOUS = ("serious", "critical")


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical accessibility violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']}; "
        + ", ".join(node["target"][0] for node in rule["nodes"][:3])
        for rule in results["violations"]
        if rule["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("touch", [False, True], ids=["desktop", "phone"])
def test_axe_finds_no_serious_violation_before_or_after_an_answer(
    server: str, tmp_path: Path, touch: bool
) -> None:
    from playwright.sync_api import expect

    not_an_image = tmp_path / "notes.png"
    not_an_image.write_bytes(b"shopping list")
    width, height = (390, 844) if touch else (900, 700)
    with chromium_page(server, width, height, touch=touch) as page:
        assert serious_violations(page) == []  # as it opens
        stroke(page, width / 3)
        expect(page.locator("#answer")).to_have_text(ONE_DIGIT, timeout=10_000)
        assert serious_violations(page) == []  # an answer with its bars and preview
        page.set_input_files("#file", str(not_an_image))
        expect(page.locator("#answer")).to_have_text("not read", timeout=10_000)
        assert serious_violations(page) == []  # an error in place of the answer

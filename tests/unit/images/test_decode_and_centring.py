"""Preprocessing on synthetic images: polarity, position, aspect, alpha, EXIF, modes, bad input."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from digit_recognizer.errors import ImageRejected
from digit_recognizer.images.centring import to_mnist_array
from tests.helpers.images import dot_png, png_bomb


def stroke_digit(size: tuple[int, int] = (200, 160), box=(60, 30, 110, 140)) -> np.ndarray:
    """A dark '7'-like shape on light paper: bar on top, diagonal down."""
    width, height = size
    canvas = np.full((height, width), 235, dtype=np.uint8)
    left, top, right, bottom = box
    canvas[top : top + 10, left:right] = 20
    for row in range(top, bottom):
        col = right - (row - top) * (right - left) // (bottom - top)
        canvas[row, max(left, col - 5) : col + 5] = 20
    return canvas


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity after a 3x3 blur, so a one-pixel shift still counts as the same digit."""
    blur = ImageFilter.BoxBlur(1)
    a = np.asarray(Image.fromarray(a).filter(blur), dtype=float).ravel()
    b = np.asarray(Image.fromarray(b).filter(blur), dtype=float).ravel()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def center_of_mass(frame: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(frame.shape)
    total = frame.sum()
    return float((rows * frame).sum() / total), float((cols * frame).sum() / total)


REFERENCE = to_mnist_array(encode(Image.fromarray(stroke_digit())))


def test_output_is_mnist_like() -> None:
    assert REFERENCE.shape == (28, 28) and REFERENCE.dtype == np.uint8
    assert REFERENCE.max() == 255 and REFERENCE[0].max() == 0  # bright ink, black border
    rows, cols = np.nonzero(REFERENCE)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (20, 21)
    center_row, center_col = center_of_mass(REFERENCE)
    assert abs(center_row - 14) <= 1 and abs(center_col - 14) <= 1


def test_polarity_light_on_dark_gives_the_same_digit() -> None:
    inverted = 255 - stroke_digit()
    assert similarity(to_mnist_array(encode(Image.fromarray(inverted))), REFERENCE) > 0.95


def test_off_centre_digit_is_centred() -> None:
    shifted = stroke_digit(size=(500, 400), box=(380, 250, 430, 360))
    assert similarity(to_mnist_array(encode(Image.fromarray(shifted))), REFERENCE) > 0.95


def test_aspect_is_kept_for_a_thin_one() -> None:
    canvas = np.full((300, 300), 240, dtype=np.uint8)
    canvas[50:250, 140:160] = 10  # a 200x20 upright bar
    frame = to_mnist_array(encode(Image.fromarray(canvas)))
    rows, cols = np.nonzero(frame > 40)
    assert rows.max() - rows.min() + 1 >= 19
    assert cols.max() - cols.min() + 1 <= 5


def test_transparent_background_is_composited_on_white() -> None:
    alpha = 255 - stroke_digit()  # opaque ink, transparent paper
    rgba = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., 3] = alpha
    frame = to_mnist_array(encode(Image.fromarray(rgba, "RGBA")))
    assert similarity(frame, REFERENCE) > 0.95


@pytest.mark.parametrize("colour", [(255, 255, 255), (255, 220, 0), (30, 60, 200), (0, 0, 0)])
def test_strokes_of_any_colour_on_a_transparent_canvas_are_ink(colour: tuple) -> None:
    # Drawing apps export strokes on a transparent canvas: white ones must not vanish on
    # white paper (they went blank: "no digit found").
    rgba = np.zeros((*stroke_digit().shape, 4), dtype=np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = 255 - stroke_digit()
    frame = to_mnist_array(encode(Image.fromarray(rgba, "RGBA")))
    assert similarity(frame, REFERENCE) > 0.95


def test_a_scan_with_transparent_margins_stays_on_white_paper() -> None:
    # Light paper, opaque, in a transparent frame (a scan turned or padded by an editor):
    # the paper is not taken for light strokes.
    scan = stroke_digit()
    rgba = np.zeros((scan.shape[0] + 40, scan.shape[1] + 40, 4), dtype=np.uint8)
    rgba[20:-20, 20:-20, :3] = scan[..., None]
    rgba[20:-20, 20:-20, 3] = 255
    frame = to_mnist_array(encode(Image.fromarray(rgba, "RGBA")))
    assert similarity(frame, REFERENCE) > 0.95


# HEIC is left out: it carries its rotation in the container (irot/imir boxes, as iPhones
# write them), which libheif applies while decoding; its EXIF orientation is informational
# (the HEIF standard), and pillow-heif can write no irot to test with.
@pytest.mark.parametrize("fmt", ["JPEG", "AVIF"])
def test_exif_orientation_is_respected(fmt: str) -> None:
    upright = Image.fromarray(stroke_digit())
    # Stored rotated; EXIF orientation 6 tells viewers to turn it 90 degrees clockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    frame = to_mnist_array(encode(stored.convert("RGB"), fmt, exif=exif, quality=95))
    assert similarity(frame, REFERENCE) > 0.9


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_phone_photo_formats_are_read(fmt: str, heif_writer: None) -> None:
    photo = Image.fromarray(stroke_digit()).convert("RGB")
    assert similarity(to_mnist_array(encode(photo, fmt, quality=90)), REFERENCE) > 0.9


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "CMYK", "I;16", "1", "LA"])
def test_every_mode_is_read(mode: str) -> None:
    image = Image.fromarray(stroke_digit())
    if mode == "I;16":
        image = Image.fromarray(stroke_digit().astype(np.uint16) * 257)
    else:
        image = image.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode == "I;16" else "PNG"
    assert similarity(to_mnist_array(encode(image, fmt)), REFERENCE) > 0.9


def test_first_frame_of_an_animation() -> None:
    first = Image.fromarray(stroke_digit()).convert("P")
    blank = Image.new("P", first.size, 255)
    data = encode(first, "GIF", save_all=True, append_images=[blank])
    assert similarity(to_mnist_array(data), REFERENCE) > 0.9


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty file"),
        (b"this is not an image", "not an image"),
        (encode(Image.fromarray(stroke_digit()))[:200], "truncated or corrupt"),
        (encode(Image.new("L", (300, 200), 250)), "no digit found"),
        (encode(Image.new("L", (1, 1), 0)), "no digit found"),
        (encode(Image.new("RGB", (64, 64), (12, 200, 40))), "no digit found"),
        (dot_png(), "no digit found .the ink is a speck"),
        (encode(Image.fromarray(stroke_digit(box=(20, 75, 180, 85)))), "a flat line"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected, match=reason):
        to_mnist_array(payload)


def test_a_small_thin_digit_in_a_wide_image_is_kept_whole() -> None:
    """A pen line of 1-2 px after the working-size cut mostly vanishes in the speck filter; the
    digit must still be cropped whole, not to the few pixels that survived it."""
    canvas = np.full((120, 430), 250, dtype=np.uint8)
    canvas[30:32, 300:330] = 30  # a thin '7': bar on top, diagonal down
    for row in range(30, 75):
        col = 330 - (row - 30) * 20 // 45
        canvas[row, col - 1 : col + 1] = 30
    frame = to_mnist_array(encode(Image.fromarray(canvas)))
    rows = np.nonzero(frame > 40)[0]
    assert rows.max() - rows.min() >= 17  # the whole height, scaled to ~20 px
    assert frame[rows.min() : rows.min() + 4].sum() > frame[rows.max() - 3 :].sum()  # bar on top


def test_missing_file_and_directory_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ImageRejected, match="no such file"):
        to_mnist_array(tmp_path / "nope.png")
    with pytest.raises(ImageRejected, match="is a directory"):
        to_mnist_array(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file without read permission")
def test_unreadable_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    path.write_bytes(encode(Image.fromarray(stroke_digit())))
    path.chmod(0)
    with pytest.raises(ImageRejected, match="permission denied"):
        to_mnist_array(path)


def test_decompression_bomb_is_refused_fast_and_small(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    assert bomb.stat().st_size < 100_000
    code = (
        "import time\n"
        "from digit_recognizer.errors import ImageRejected\n"
        "from digit_recognizer.images.centring import to_mnist_array\n"
        "start = time.perf_counter()\n"
        "try:\n"
        f"    to_mnist_array({str(bomb)!r})\n"
        "except ImageRejected as err:\n"
        "    print(err)\n"
        "print(time.perf_counter() - start)\n"
        # VmHWM (peak RSS of this process image); ru_maxrss would carry over pytest's own peak.
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    message, seconds, max_rss_kib = result.stdout.strip().splitlines()
    assert "too many pixels" in message
    assert float(seconds) < 2.0 and time.perf_counter() - started < 10
    assert int(max_rss_kib) < 1_000_000  # KiB: under 1 GB


def test_only_the_formats_people_upload_are_opened(tmp_path: Path) -> None:
    eps = tmp_path / "drawing.eps"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    ppm = tmp_path / "scan.ppm"
    Image.new("L", (40, 40), 255).save(ppm)
    for path in (eps, ppm):
        with pytest.raises(ImageRejected, match="not an image in a supported format"):
            to_mnist_array(path)


def test_a_float_image_holding_inf_is_refused(tmp_path: Path) -> None:
    values = np.zeros((40, 40), dtype=np.float32)
    values[10:30, 18:22] = np.inf
    path = tmp_path / "float.tif"
    Image.fromarray(values, mode="F").save(path)
    with pytest.raises(ImageRejected, match="not finite"):
        to_mnist_array(path)


def _numeric(mode: str, side: int) -> Image.Image:
    """The stroke digit as a 16- or 32-bit image of ``side`` px, dark ink on light paper."""
    paper = np.asarray(Image.fromarray(stroke_digit()).resize((side, side)), dtype=np.float64)
    if mode == "I":  # values up to 1e9: sums of a few pixels overflow 32 bits
        return Image.fromarray((paper / 255 * 1e9).astype(np.int32))
    if mode == "F":
        return Image.fromarray((paper / 255 * 1e6).astype(np.float32))
    deep = (paper * 257).astype(">u2" if mode == "I;16B" else "<u2")
    return Image.frombytes(mode, (side, side), deep.tobytes())


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I", "F"])
@pytest.mark.parametrize("side", [300, 1100, 2600])  # below and above the reducers' thresholds
def test_deep_images_are_read_like_their_8_bit_twin_at_any_size(
    mode: str, fmt: str, side: int
) -> None:
    image = _numeric(mode, side)
    buffer = io.BytesIO()
    try:
        image.save(buffer, fmt)
    except (OSError, KeyError, ValueError):
        pytest.skip(f"Pillow cannot write {mode} as {fmt}")
    assert similarity(to_mnist_array(buffer.getvalue()), REFERENCE) > 0.9


def test_a_heic_whose_header_understates_its_size_is_one_line() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    buffer = io.BytesIO()
    Image.new("L", (2400, 2400), 255).save(buffer, "HEIF", quality=10)
    data = bytearray(buffer.getvalue())
    at = data.find(b"ispe")  # the item's declared size: 200x200
    data[at + 8 : at + 16] = (200).to_bytes(4, "big") * 2
    with pytest.raises(ImageRejected) as refused:
        to_mnist_array(bytes(data))
    assert "\n" not in str(refused.value) and "upload" in str(refused.value)


def test_the_primary_image_of_a_heic_is_the_one_read(heif_writer: None) -> None:
    digit = Image.fromarray(stroke_digit())
    blank = Image.new("L", digit.size, 255)
    buffer = io.BytesIO()
    blank.save(buffer, "HEIF", save_all=True, append_images=[digit], primary_index=1)
    assert similarity(to_mnist_array(buffer.getvalue()), REFERENCE) > 0.9


def _on_grainy_paper(contrast: float, grain: float, seed: int = 0) -> bytes:
    """A 7 of ``contrast`` (share of full scale) on light paper with noise of sd ``grain``."""
    stroke = Image.new("L", (160, 200), 0)
    ImageDraw.Draw(stroke).line([(50, 40), (110, 40), (70, 170)], fill=255, width=10)
    rng = np.random.default_rng(seed)
    paper = 0.85 + rng.normal(0, grain, (200, 160))
    grey = np.clip(paper - contrast * np.asarray(stroke, np.float64) / 255, 0, 1)
    return encode(Image.fromarray((grey * 255).round().astype(np.uint8)))


@pytest.mark.parametrize("grain", [0.0, 0.01, 0.02, 0.04])
@pytest.mark.parametrize("contrast", [0.05, 0.08, 0.12, 0.2, 0.4])
def test_faint_ink_is_read_when_it_stands_out_of_the_paper_grain(
    contrast: float, grain: float
) -> None:
    stands_out = contrast >= max(6 * grain, 0.05)  # a person sees it at a glance
    if stands_out:
        clear = to_mnist_array(_on_grainy_paper(0.6, 0.0))
        assert similarity(to_mnist_array(_on_grainy_paper(contrast, grain)), clear) > 0.8
    elif contrast <= 2 * grain:  # lost in the grain: what a person calls empty paper
        with pytest.raises(ImageRejected, match="no digit found"):
            to_mnist_array(_on_grainy_paper(contrast, grain))


@pytest.mark.parametrize("grain", [0.0, 0.01, 0.02, 0.04, 0.08])
def test_grainy_empty_paper_is_blank(grain: float) -> None:
    with pytest.raises(ImageRejected, match="no digit found"):
        to_mnist_array(_on_grainy_paper(0.0, grain, seed=3))


def test_a_grey_pen_with_a_dark_blot_gives_strokes_as_full_as_a_black_pen() -> None:
    """Full ink is the strokes' typical level, as in MNIST, not the darkest pixel: a pencil
    digit with one blot of ink on it is not drawn grey."""
    pencil = stroke_digit()
    pencil[pencil < 100] = 150  # a grey pen on light paper
    pencil[75:85, 80:90] = 0  # a blot on the diagonal
    grey_pen = to_mnist_array(encode(Image.fromarray(pencil)))
    strokes = REFERENCE > 0
    assert np.median(grey_pen[grey_pen > 0]) >= 0.9 * np.median(REFERENCE[strokes])
    assert similarity(grey_pen, REFERENCE) > 0.95

"""Things that are not digits, drawn as people photograph paper: letters in several fonts,
shapes, scribbles, smileys, specks and blotches of noise. Pure NumPy/PIL.

Training with an 11th class fed from these ("outlier exposure", ``data.not_digit_share``)
teaches the net what a digit is not; ``benchmarks/not_digits.py`` draws the committed
evaluation set with the same functions and another seed.
"""

import os
import string
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digit_recognizer.errors import ImageRejected
from digit_recognizer.images import centring, ink
from digit_recognizer.images.centring import center_in_frame
from digit_recognizer.images.ink import ink_map, isolate_digit
from digit_recognizer.progress import tracked
from digit_recognizer.synthetic import paper
from digit_recognizer.synthetic.cache import cached, fingerprint
from digit_recognizer.synthetic.paper import lit_paper

LOOKALIKES = set("OoIli")  # written like 0 and 1 by most people: never "not a digit"
LETTERS = [c for c in string.ascii_letters if c not in LOOKALIKES]
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
)


def _font(rng: np.random.Generator, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    choices = [path for path in FONT_FILES if Path(path).is_file()]
    pick = int(rng.integers(0, len(choices) + 1))
    if pick == len(choices):
        return ImageFont.load_default(size=size)  # Pillow's own font: always there
    return ImageFont.truetype(choices[pick], size)


def _canvas(side: int = 160) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (side, side), 0)
    return image, ImageDraw.Draw(image)


def letter(rng: np.random.Generator, char: str | None = None) -> Image.Image:
    char = char or LETTERS[int(rng.integers(0, len(LETTERS)))]
    font = _font(rng, int(rng.integers(70, 130)))
    box = font.getbbox(char)
    image = Image.new("L", (int(box[2]) + 20, int(box[3]) + 20), 0)
    ImageDraw.Draw(image).text((10, 10), char, fill=255, font=font)
    return image


def scribble(rng: np.random.Generator) -> Image.Image:
    image, draw = _canvas()
    points = np.cumsum(rng.normal(0, 18, size=(int(rng.integers(6, 14)), 2)), axis=0) + 80
    line = [(float(x), float(y)) for x, y in np.clip(points, 5, 155)]
    draw.line(line, fill=255, width=int(rng.integers(4, 10)), joint="curve")
    return image


def smiley(rng: np.random.Generator) -> Image.Image:
    image, draw = _canvas()
    width = int(rng.integers(4, 9))
    draw.ellipse((15, 15, 145, 145), outline=255, width=width)
    for x in (55, 105):
        draw.ellipse((x - 7, 55, x + 7, 69), fill=255)
    draw.arc((45, 60, 115, 120), 20, 160, fill=255, width=width)
    return image


def shape(rng: np.random.Generator) -> Image.Image:
    image, draw = _canvas()
    width = int(rng.integers(4, 10))
    kind = int(rng.integers(0, 5))
    if kind == 0:
        draw.rectangle((25, 25, 135, 135), outline=255, width=width)
    elif kind == 1:
        draw.polygon([(80, 15), (145, 140), (15, 140)], outline=255, width=width)
    elif kind == 2:
        draw.line((20, 20, 140, 140), fill=255, width=width)
        draw.line((140, 20, 20, 140), fill=255, width=width)
    elif kind == 3:
        draw.line((80, 15, 80, 145), fill=255, width=width)
        draw.line((15, 80, 145, 80), fill=255, width=width)
    else:
        angles = np.linspace(0, 4 * np.pi, 6)[:5] + rng.uniform(0, 1)
        star = [(80 + 65 * float(np.cos(a)), 80 + 65 * float(np.sin(a))) for a in angles]
        draw.line([*star, star[0]], fill=255, width=width)
    return image


def speck(rng: np.random.Generator) -> Image.Image:
    image, draw = _canvas(120)
    radius = int(rng.integers(3, 8))
    draw.ellipse((60 - radius, 60 - radius, 60 + radius, 60 + radius), fill=255)
    return image


def noise(rng: np.random.Generator) -> Image.Image:
    blobs = rng.random((16, 16)) > rng.uniform(0.55, 0.8)
    image = Image.fromarray((blobs * 255).astype(np.uint8))
    return image.resize((160, 160), Image.Resampling.BICUBIC)


KINDS: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "letter": letter,
    "scribble": scribble,
    "smiley": smiley,
    "shape": shape,
    "speck": speck,
    "noise": noise,
}
# How often each kind is drawn for training: letters are the hardest and most common.
TRAINING_MIX = {"letter": 0.5, "scribble": 0.2, "shape": 0.15, "smiley": 0.05, "noise": 0.1}


def as_photo(ink: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """A white-on-black drawing as a greyscale photo of paper (values in [0, 1]): shrunk to
    40-90 px, sheared, rotated, placed on a larger sheet with uneven light and noise."""
    scale = rng.uniform(40, 90) / max(ink.size)
    ink = ink.resize((max(1, round(ink.width * scale)), max(1, round(ink.height * scale))))
    shear = rng.uniform(-0.3, 0.3)
    matrix = (1, shear, -shear * ink.height / 2, 0, 1, 0)
    ink = ink.transform(ink.size, Image.Transform.AFFINE, matrix)
    ink = ink.rotate(float(rng.uniform(-15, 15)), Image.Resampling.BICUBIC, expand=True)
    low = max(ink.size) + 10
    width, height = (int(v) for v in rng.integers(low, int(low * 1.6) + 1, size=2))
    sheet = np.zeros((height, width), np.float32)
    left = int(rng.integers(0, width - ink.width + 1))
    top = int(rng.integers(0, height - ink.height + 1))
    sheet[top : top + ink.height, left : left + ink.width] = np.asarray(ink, np.float32) / 255
    return np.clip(lit_paper(sheet, rng) / 255.0, 0.0, 1.0).astype(np.float32)


def training_negatives(count: int, seed: int = 0, cache_dir: Path | None = None) -> np.ndarray:
    """``count`` non-digits as the model would see them (through the user's preprocessing),
    (n, 28, 28) uint8; drawings the preprocessing refuses never reach a model and are drawn
    again. Cached like the styled sets."""
    kinds, weights = list(TRAINING_MIX), np.array(list(TRAINING_MIX.values()))

    def one(index: int) -> np.ndarray:
        rng = np.random.default_rng([seed, index, 11])
        for _ in range(20):
            kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
            try:
                return center_in_frame(isolate_digit(ink_map(as_photo(KINDS[kind](rng), rng))))
            except ImageRejected:
                continue
        return np.zeros((28, 28), np.uint8)

    def draw() -> dict[str, np.ndarray]:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            drawn = tracked(pool.map(one, range(count)), "drawing non-digits for training", count)
            images = np.stack(list(drawn)) if count else np.zeros((0, 28, 28))
        return {"images": images.astype(np.uint8)}

    drawing = (sys.modules[__name__], paper, ink, centring)
    name = f"negatives-{fingerprint(f'negatives,{count},{seed}', *drawing)}"
    return cached(cache_dir, name, {"images": ((count, 28, 28), np.dtype(np.uint8))}, draw)[
        "images"
    ]

"""Things that are not digits, and how often the model says so.

    python benchmarks/not_digits.py make [out=benchmarks/not_digits]   # (re)draw the set
    python benchmarks/not_digits.py measure [ckpt=PATH] [min_confidence=X]

The committed set (benchmarks/not_digits/*.png) holds letters in several fonts, shapes,
scribbles, smileys, specks and noise, drawn as people photograph paper: dark on light,
any size, rotated, sheared, noisy. Letters that are digits in most hands (O, o, I, l, i)
are left out. ``measure`` reads each with predict's own path (mode=digit) and reports the
share refused as "not a digit", beside the share of the 10,000 MNIST test digits still
answered and the accuracy of those answers (the issue's targets: >= 90%, >= 99.0%, and
no lower than the model's accuracy).
"""

import io
import string
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

FOLDER = ROOT / "benchmarks" / "not_digits"
LOOKALIKES = set("OoIli")  # written like 0 and 1
LETTERS = [c for c in string.ascii_letters if c not in LOOKALIKES]
FONT_FILES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
]


def _font(rng: np.random.Generator, size: int) -> ImageFont.FreeTypeFont:
    choices = [path for path in FONT_FILES if Path(path).is_file()]
    pick = int(rng.integers(0, len(choices) + 1))
    if pick == len(choices):
        return ImageFont.load_default(size=size)  # Pillow's own font: always there
    return ImageFont.truetype(choices[pick], size)


def _photo(ink: Image.Image, rng: np.random.Generator) -> bytes:
    """A white-on-black drawing ('L') as a photo of paper: rotated, sheared, placed on a larger
    sheet with uneven light and noise, saved as PNG or JPEG."""
    scale = rng.uniform(40, 90) / max(ink.size)  # small files: a few KB each
    ink = ink.resize((max(1, round(ink.width * scale)), max(1, round(ink.height * scale))))
    shear = rng.uniform(-0.3, 0.3)
    ink = ink.transform(
        ink.size, Image.Transform.AFFINE, (1, shear, -shear * ink.height / 2, 0, 1, 0)
    )
    ink = ink.rotate(float(rng.uniform(-15, 15)), Image.Resampling.BICUBIC, expand=True)
    low = max(ink.size) + 10
    width, height = (int(v) for v in rng.integers(low, int(low * 1.6) + 1, size=2))
    sheet = np.zeros((height, width), np.float32)
    left, top = int(rng.integers(0, width - ink.width)), int(rng.integers(0, height - ink.height))
    sheet[top : top + ink.height, left : left + ink.width] = np.asarray(ink, np.float32) / 255
    paper, pen = rng.uniform(190, 250), rng.uniform(0, 70)
    grey = paper + np.linspace(0, rng.uniform(-20, 20), width)[None, :] - (paper - pen) * sheet
    grey += rng.normal(0, rng.uniform(0, 8), size=grey.shape)
    image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    if rng.random() < 0.5:
        image.save(buffer, "PNG")
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=int(rng.integers(75, 95)))
    return buffer.getvalue()


def _canvas(side: int = 160) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (side, side), 0)
    return image, ImageDraw.Draw(image)


def letter(rng: np.random.Generator, char: str) -> Image.Image:
    size = int(rng.integers(70, 130))
    font = _font(rng, size)
    box = font.getbbox(char)
    image = Image.new("L", (box[2] + 20, box[3] + 20), 0)
    ImageDraw.Draw(image).text((10, 10), char, fill=255, font=font)
    return image


def scribble(rng: np.random.Generator) -> Image.Image:
    image, draw = _canvas()
    points = np.cumsum(rng.normal(0, 18, size=(int(rng.integers(6, 14)), 2)), axis=0) + 80
    draw.line(
        [tuple(p) for p in np.clip(points, 5, 155)],
        fill=255,
        width=int(rng.integers(4, 10)),
        joint="curve",
    )
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
        star = [(80 + 65 * np.cos(a), 80 + 65 * np.sin(a)) for a in angles]
        draw.line([*star, star[0]], fill=255, width=width)
    return image


def speck(rng: np.random.Generator) -> Image.Image:
    image, draw = _canvas(120)
    radius = int(rng.integers(3, 8))
    draw.ellipse((60 - radius, 60 - radius, 60 + radius, 60 + radius), fill=255)
    return image


def noise(rng: np.random.Generator) -> Image.Image:
    blobs = rng.random((16, 16)) > rng.uniform(0.55, 0.8)
    return Image.fromarray((blobs * 255).astype(np.uint8)).resize(
        (160, 160), Image.Resampling.BICUBIC
    )


def make(out: Path = FOLDER, seed: int = 2026) -> int:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    drawings: list[tuple[str, Image.Image]] = []
    for char in LETTERS:
        for copy in range(2):
            name = f"letter-{'upper' if char.isupper() else 'lower'}-{char}-{copy}"
            drawings.append((name, letter(rng, char)))
    drawings += [(f"scribble-{i:02d}", scribble(rng)) for i in range(30)]
    drawings += [(f"smiley-{i:02d}", smiley(rng)) for i in range(10)]
    drawings += [(f"shape-{i:02d}", shape(rng)) for i in range(30)]
    drawings += [(f"speck-{i:02d}", speck(rng)) for i in range(10)]
    drawings += [(f"noise-{i:02d}", noise(rng)) for i in range(10)]
    for name, drawing in drawings:
        data = _photo(drawing, rng)
        suffix = ".jpg" if data[:2] == b"\xff\xd8" else ".png"
        (out / f"{name}{suffix}").write_bytes(data)
    return len(drawings)


def measure(ckpt: str | None, min_confidence: float | None) -> None:
    import torch

    from digit_recognizer.calibration import confidence_threshold
    from digit_recognizer.inference import choose_classifier, load_classifier
    from digit_recognizer.mnist_files import find_raw_dir, load_split
    from digit_recognizer.prediction import predict_files

    if ckpt:
        classifier = load_classifier(ckpt)
    else:
        store = f"sqlite:///{ROOT / 'mlruns' / 'mlflow.db'}"
        classifier = choose_classifier(None, None, store, "mnist")
    raw = find_raw_dir(ROOT / "data")
    images, labels = load_split(raw, "test")
    probabilities = classifier.predict(images)
    if min_confidence is None:
        min_confidence = classifier.min_confidence
        if min_confidence == 0.0:  # a checkpoint from before thresholds: fit it as training does
            train_images, train_labels = load_split(raw, "train")
            order = torch.randperm(len(train_labels), generator=torch.Generator().manual_seed(42))
            min_confidence = confidence_threshold(classifier.predict(train_images[order[:5000]]))
    confidence, predicted = probabilities.max(dim=1)
    answered = confidence >= min_confidence
    files = sorted(FOLDER.glob("*.*"))
    results = predict_files(classifier, files, mode="digit", min_confidence=min_confidence)
    refused: dict[str, list[bool]] = {}
    for path, result in zip(files, results, strict=True):
        kind = path.name.split("-")[0]
        refused.setdefault(kind, []).append(
            result.reading is not None and result.reading.reason is not None
        )
    total = [flag for flags in refused.values() for flag in flags]
    print(f"model: {classifier.source}")
    print(f"threshold (min_confidence): {min_confidence:.4f}")
    print(f"not-digits refused: {np.mean(total):.1%} of {len(total)}")
    for kind, flags in refused.items():
        print(f"  {kind:9s} {np.mean(flags):6.1%} of {len(flags)}")
    print(f"MNIST test digits answered: {answered.float().mean():.2%} of {len(labels)}")
    print(
        f"accuracy of the answered: {(predicted[answered] == labels[answered]).float().mean():.2%} "
        f"(all: {(predicted == labels).float().mean():.2%})"
    )


if __name__ == "__main__":
    options = dict(arg.split("=", 1) for arg in sys.argv[2:] if "=" in arg)
    if sys.argv[1:2] == ["make"]:
        print(f"{make(Path(options.get('out', FOLDER)))} drawings in {options.get('out', FOLDER)}")
    elif sys.argv[1:2] == ["measure"]:
        limit = options.get("min_confidence")
        measure(options.get("ckpt"), float(limit) if limit is not None else None)
    else:
        sys.exit(__doc__)

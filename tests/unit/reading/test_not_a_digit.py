""" "Not a digit": the threshold's reasons, and the 11th class (outlier exposure)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from digit_recognizer.errors import NotADigit
from digit_recognizer.labels import NOT_DIGIT
from digit_recognizer.model.checkpoints import Classifier, load_classifier
from digit_recognizer.model.probabilities import ProbabilityNet
from digit_recognizer.reading.lattice import Lattice
from digit_recognizer.reading.pieces import Piece
from digit_recognizer.reading.reader import read_all
from digit_recognizer.synthetic.non_digits import KINDS, training_negatives
from digit_recognizer.training.train import train
from tests.helpers.configs import compose_train, fast_overrides
from tests.helpers.paths import ROOT


class Fixed(torch.nn.Module):
    """A "net" that answers the same logits for every image."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)
        self.unused = torch.nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), -1)


def classifier_answering(logits: list[float], threshold: float) -> Classifier:
    model = ProbabilityNet(Fixed(logits))
    spec = {"num_classes": len(logits)}
    return Classifier(model=model.eval(), source="fixed", min_confidence=threshold, spec=spec)


DIGIT = [Piece([(np.zeros((28, 28), np.uint8), None)], Lattice.one())]


def test_a_ten_output_model_below_its_threshold_answers_and_says_it_is_unsure() -> None:
    # Low confidence of a model that cannot answer "not a digit" is no evidence: keep its digit.
    unsure = classifier_answering([2.0, 1.5, *([0.0] * 8)], threshold=0.9)
    (reading,) = read_all(unsure, [DIGIT])
    assert reading.digit == 0 and reading.reason is None
    assert reading.unsure.startswith("the model is only ")
    assert "sure it is a 0, below its 90.0% threshold" in reading.unsure
    assert "experiment=reader" in reading.unsure  # how to get a model that can refuse
    (answered,) = read_all(unsure, [DIGIT], min_confidence=0.0)  # the caller's override
    assert answered.digit == 0 and answered.unsure is None


def test_a_model_that_learnt_not_a_digit_refuses_below_its_threshold() -> None:
    refusing = classifier_answering([2.0, 1.5, *([0.0] * 8), 2.0], threshold=0.9)
    (reading,) = read_all(refusing, [DIGIT])
    assert reading.digit is None and reading.unsure is None
    assert reading.reason.startswith("not a digit (the model is only ")


def test_a_number_with_an_unsure_digit_is_unsure_or_refused() -> None:
    sure = classifier_answering([9.0, *([0.0] * 9)], threshold=0.5)
    (reading,) = read_all(sure, [DIGIT * 3])
    assert reading.number == "000" and reading.digit is None and reading.unsure is None
    (doubtful,) = read_all(sure, [DIGIT * 3], min_confidence=0.9999)
    assert doubtful.number == "000" and doubtful.unsure.startswith("digit 1: ")
    refusing = classifier_answering([9.0, *([0.0] * 9), 0.0], threshold=0.9999)
    (refused,) = read_all(refusing, [DIGIT * 3])
    assert refused.number is None and refused.reason.startswith("not a number (mark 1 of 3")


def test_what_the_preprocessing_refuses_is_answered_with_its_reason() -> None:
    sure = classifier_answering([9.0, *([0.0] * 9)], threshold=0.5)
    (reading,) = read_all(sure, [NotADigit("x.png: no digit found (the image is blank)")])
    assert reading.parts == [] and reading.reason == "no digit found (the image is blank)"


def test_an_eleventh_output_lowers_every_digit_s_confidence() -> None:
    net = ProbabilityNet(Fixed([3.0, *([0.0] * 9), 3.0]))
    probabilities = net(torch.zeros(2, 1, 28, 28))
    assert probabilities.shape == (2, 10)  # the digits only, for every caller
    e3 = float(np.exp(3.0))
    # The 11-way softmax's share: "not a digit" took as much as the digit 0 got.
    assert float(probabilities[0, 0]) == pytest.approx(e3 / (2 * e3 + 9), rel=1e-4)
    assert float(probabilities[0].sum()) == pytest.approx(1 - e3 / (2 * e3 + 9), rel=1e-4)


def test_negatives_are_drawn_of_every_kind_and_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    assert all(KINDS[kind](rng).getbbox() for kind in KINDS)  # each draws some ink
    pool = training_negatives(24, seed=1, cache_dir=tmp_path)
    assert pool.shape == (24, 28, 28) and pool.dtype == np.uint8
    assert (pool.reshape(24, -1).max(axis=1) > 100).all()  # all made it through preprocessing
    assert np.array_equal(pool, training_negatives(24, seed=1, cache_dir=tmp_path))
    assert len(list(tmp_path.glob("negatives-*.npz"))) == 1


@pytest.mark.parametrize(("experiment", "outputs"), [("outlier", 11), ("reader", 111)])
def test_training_with_an_eleventh_class(
    tiny_mnist: Path, tmp_path: Path, experiment: str, outputs: int
) -> None:
    from digit_recognizer.data import datamodule as data

    overrides = [
        *fast_overrides(tmp_path, tiny_mnist),
        "logger=none",
        f"experiment={experiment}",
        "data.not_digit_pool=40",
        "data.cut_pool=40",
    ]
    train(compose_train(overrides))
    best = next(
        p for p in (tmp_path / "out" / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt"
    )
    classifier = load_classifier(best)
    linear = [m for m in classifier.model.net.modules() if isinstance(m, torch.nn.Linear)]
    assert linear[-1].out_features == outputs and classifier.knows_not_a_digit
    assert classifier.reads_pairs == (outputs > 11)  # the reader's outputs for touching pairs
    assert classifier.predict_all(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape == (
        2,
        outputs,
    )
    probabilities = classifier.predict(torch.zeros(3, 1, 28, 28, dtype=torch.uint8))
    assert probabilities.shape == (3, 10) and (probabilities.sum(dim=1) <= 1.0001).all()
    assert 0.0 < classifier.min_confidence < 1.0
    # The data module swaps a share of the batch for non-digits labelled 10.
    module = data.MNISTDataModule(
        root=str(tiny_mnist), val_size=100, verify_md5=False, not_digit_share=0.25, not_digit_pool=8
    )
    module.setup("fit")
    images, labels = module.train_set.images[:8], module.train_set.labels[:8]
    mixed, mixed_labels = module._mixed(images, labels)
    assert (mixed_labels[:2] == NOT_DIGIT).all() and torch.equal(mixed_labels[2:], labels[2:])
    assert torch.equal(mixed[2:], images[2:])


@pytest.fixture(scope="module")
def outlier_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """experiment=outlier for one epoch on the 55,000 real training digits, with pools of
    2,000 non-digits, 2,000 re-styled digits and 2,000 cut parts drawn through the user's
    preprocessing."""
    from tests.helpers.configs import real_mnist_overrides
    from tests.helpers.paths import HAS_REAL_MNIST, SHARED_DATA

    if not HAS_REAL_MNIST:
        pytest.skip(f"no MNIST copy at {SHARED_DATA}")
    workdir = tmp_path_factory.mktemp("outlier_model")
    overrides = [
        *real_mnist_overrides(workdir),
        "data.robust_size=0",
        "experiment=outlier",
        "data.not_digit_pool=2000",
        "data.style_pool=2000",
        "data.cut_pool=2000",
    ]
    train(compose_train(overrides))
    folder = workdir / "out" / "checkpoints"
    return next(path for path in folder.glob("*.ckpt") if path.name != "last.ckpt")


def _drawn(tmp_path: Path) -> tuple[Path, Path]:
    """A capital A set in DejaVu Sans, and a dot, each dark on a white 280x280 page."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (280, 280), 255)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 200)
    ImageDraw.Draw(page).text((140, 140), "A", fill=0, font=font, anchor="mm")
    letter = tmp_path / "letter-A.png"
    page.save(letter)
    page = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(page).ellipse((136, 136, 144, 144), fill=0)
    dot = tmp_path / "dot.png"
    page.save(dot)
    return letter, dot


@pytest.mark.slow  # trains an 11-class model on real MNIST (about a minute)
def test_a_letter_and_a_dot_are_refused_by_the_cli_and_the_api(
    outlier_checkpoint: Path, tmp_path: Path
) -> None:
    import base64
    import json

    import httpx

    from tests.helpers.processes import run_script
    from tests.helpers.servers import served

    letter, dot = _drawn(tmp_path)
    args = [f"img=[{letter},{dot}]", f"ckpt={outlier_checkpoint}", "format=json"]
    result = run_script("predict.py", args, tmp_path)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer["digit"] for answer in answers] == [None, None], answers
    assert answers[0]["reason"].startswith("not a digit (the model is only")
    assert answers[1]["reason"].startswith("no digit found (the ink is a speck")
    with served(tmp_path, f"ckpt={outlier_checkpoint}", "workers=1") as url:
        for path, reason in ((letter, "not a digit"), (dot, "no digit found")):
            image = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
            response = httpx.post(f"{url}/api/predict", json={"image": image}, timeout=30)
            assert response.status_code == 200
            assert response.json()["digit"] is None
            assert response.json()["reason"].startswith(reason)


@pytest.mark.skipif(
    not (ROOT / "data" / "MNIST" / "raw").exists(), reason="no data/MNIST/raw (make data links it)"
)
def test_the_not_digit_set_is_measured_in_the_mode_asked(tiny_checkpoint: Path) -> None:
    import subprocess
    import sys

    def measure(*options: str) -> subprocess.CompletedProcess:
        script = ROOT / "benchmarks" / "not_digits.py"
        command = [sys.executable, str(script), "measure", f"ckpt={tiny_checkpoint}", *options]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    result = measure("mode=auto")
    assert result.returncode == 0, result.stderr
    assert "not-digits refused (mode=auto):" in result.stdout and "of 184" in result.stdout
    wrong = measure("mode=Auto")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "mode must be auto, digit or number; got 'Auto'."

"""Which model reads people's digits best: train SeedCNN, SeedCNN with style augmentation,
``experiment=best`` and ``experiment=robust`` (no MLflow), and score each best checkpoint on

- MNIST test (accuracy and calibrated ECE),
- ``val/robust``: validation digits in the seven styles of ``synthetic/styles.py`` (what predict's
  ``select_by`` uses),
- the same styles applied to the first N **test** digits (per style),
- N test digits re-drawn as upload-like photos (``eval.py uploads=N``'s generator).

    python benchmarks/robustness.py [seed_cnn_plain seed_cnn best robust] [N=2000]
    EXTRA="trainer.max_epochs=1" python benchmarks/robustness.py seed_cnn   # a quick look

Prints one row per model and writes them as JSON to $OUT (default /tmp)/robustness.json.
Hours on a laptop CPU; about 5 minutes for all four on one H100.
"""

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUNS = {
    "seed_cnn_plain": ["data.style_share=0", "data.augment=false"],
    "seed_cnn": [],
    "best": ["experiment=best"],
    "robust": ["experiment=robust"],
}


def main(names: list[str], count: int) -> None:
    from hydra import compose, initialize_config_dir

    from digit_recognizer.data.datamodule import MNISTDataModule
    from digit_recognizer.data.mnist_files import find_raw_dir, load_split
    from digit_recognizer.evaluation.scores import score_uploads
    from digit_recognizer.model.calibration import expected_calibration_error
    from digit_recognizer.model.checkpoints import load_classifier
    from digit_recognizer.synthetic.styles import STYLES, robustness_set
    from digit_recognizer.training.train import train

    data_root = Path(os.environ.get("MNIST_ROOT", ROOT / "data"))
    test_images, test_labels = load_split(find_raw_dir(data_root), "test")
    split = MNISTDataModule(root=str(data_root), download=False)
    split.setup("fit")
    val_styled = robustness_set(split.val_set.images.numpy(), list(STYLES), count)
    test_styled = robustness_set(test_images.numpy(), list(STYLES), count)
    out = Path(os.environ.get("OUT", "/tmp"))
    summary = {}
    for name in names:
        work = Path(f"/tmp/robustness/{name}")
        overrides = [
            f"paths.root_dir={work}",
            f"paths.output_dir={work}/out",
            f"data.root={data_root}",
            "data.download=false",
            "logger=none",
            "trainer.enable_progress_bar=false",
            f"data.robust_size={count}",
            *RUNS[name],
            *os.environ.get("EXTRA", "").split(),
        ]
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=overrides)
        start = time.time()
        train(cfg)
        seconds = time.time() - start
        folder = work / "out" / "checkpoints"
        classifier = load_classifier(
            next(p for p in folder.glob("*.ckpt") if p.name != "last.ckpt")
        )

        def accuracy(images, labels, classifier=classifier) -> float:
            return float((classifier.predict(images).argmax(1) == labels).float().mean())

        probabilities = classifier.predict(test_images)
        row = {
            "train_s": round(seconds, 1),
            "temperature": round(classifier.model.temperature, 3),
            "test_acc": float((probabilities.argmax(1) == test_labels).float().mean()),
            "test_ece": expected_calibration_error(probabilities, test_labels),
            "val_robust": {
                s: accuracy(v, split.val_set.labels[:count]) for s, v in val_styled.items()
            },
            "test_styled": {s: accuracy(v, test_labels[:count]) for s, v in test_styled.items()},
            "uploads": score_uploads(classifier, test_images, test_labels, count)["uploads"],
        }
        row["val_robust_mean"] = sum(row["val_robust"].values()) / len(STYLES)
        row["test_styled_mean"] = sum(row["test_styled"].values()) / len(STYLES)
        summary[name] = row
        (out / "robustness.json").write_text(json.dumps(summary, indent=1))
    for name, row in summary.items():
        print(
            f"{name:16s} {row['train_s']:6.1f} s  test {row['test_acc']:.4f}  ECE {row['test_ece']:.4f}"
            f"  val/robust {row['val_robust_mean']:.4f}  styled test {row['test_styled_mean']:.4f}"
            f"  uploads {row['uploads']:.4f}"
        )
        print("   ", "  ".join(f"{s} {row['test_styled'][s]:.3f}" for s in STYLES))


if __name__ == "__main__":
    options = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    chosen = [arg for arg in sys.argv[1:] if "=" not in arg] or list(RUNS)
    unknown = set(chosen) - set(RUNS)
    if unknown:
        sys.exit(f"unknown model(s) {sorted(unknown)}; choose from {', '.join(RUNS)}")
    main(chosen, int(options.get("N", 2000)))

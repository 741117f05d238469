"""Score a model on the official MNIST test set: ``python scripts/eval.py [ckpt=PATH|run_id=ID]``.

With the MLflow logger on and a model from a run, the scores and figures go onto that run.
"""

import hydra
from _entry import CONFIG_DIR, choose_model, report_user_errors
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
@report_user_errors
def main(cfg: DictConfig) -> float:
    from digit_recognizer.evaluation import record_on_run, score, score_uploads
    from digit_recognizer.training import build

    classifier = choose_model(cfg)
    print(f"model: {classifier.source}")
    data = build(cfg.data, "data")  # the training data module: same checks, same messages
    data.setup("test")
    images, labels = data.test_set.images, data.test_set.labels
    report = score(classifier, images, labels, cfg.batch_size)
    print(report.as_text())
    if cfg.uploads:
        uploads = score_uploads(classifier, images, labels, cfg.uploads)
        print(
            f"on {cfg.uploads} digits re-drawn as uploads: raw {uploads['raw']:.2%}, "
            f"preprocessed {uploads['uploads']:.2%}, "
            f"naive resize {uploads['uploads_naive_resize']:.2%}"
        )
    if cfg.get("logger") and classifier.run_id:
        record_on_run(cfg.logger.tracking_uri, classifier.run_id, report, images, labels)
        print(f"recorded eval/test_acc and figures on run {classifier.run_id}")
    return report.accuracy


if __name__ == "__main__":
    main()

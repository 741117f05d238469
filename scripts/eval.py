"""Score a model on the official MNIST test set: ``python scripts/eval.py [ckpt=PATH|run_id=ID]``.

With the MLflow logger on and a model from a run, the scores and figures go onto that run.
"""

import sys

import hydra
from omegaconf import DictConfig

from digit_recognizer.cli.arguments import path_arguments
from digit_recognizer.cli.exits import report_user_errors, run_main
from digit_recognizer.cli.startup import config_dir

CONFIG_DIR = config_dir(__file__)

# Options naming files: their values reach the config exactly as typed.
PATH_KEYS = ("ckpt", "data.root")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
@report_user_errors
def main(cfg: DictConfig) -> float:
    from digit_recognizer.cli.model_choice import choose_model
    from digit_recognizer.cli.options import EvalConfig, checked_options
    from digit_recognizer.data.datamodule import MNISTDataModule
    from digit_recognizer.errors import UserError
    from digit_recognizer.evaluation.scores import record_on_run, score, score_uploads

    checked_options(EvalConfig, cfg)
    classifier = choose_model(cfg)
    print(f"model: {classifier.source}")
    # The training data module: same files, same checks, same messages.
    data = MNISTDataModule.from_config(cfg.data)
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
    yardstick = None
    if cfg.other_writers:
        from digit_recognizer.evaluation.other_writers import score_other_writers

        yardstick = score_other_writers(classifier)
        print(yardstick.as_text())
    if cfg.get("logger") and classifier.run_id:
        try:
            record_on_run(
                cfg.logger.tracking_uri, classifier.run_id, report, images, labels, yardstick
            )
        except Exception as err:  # the scores above are printed; say why they are not stored
            raise UserError(
                f"Scored, but could not record the result on run {classifier.run_id} "
                f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})."
            ) from err
        print(f"recorded eval/* metrics and figures on run {classifier.run_id}")
    return report.accuracy


if __name__ == "__main__":
    sys.argv[1:] = path_arguments(sys.argv[1:], PATH_KEYS, list_key=None)
    run_main(main)

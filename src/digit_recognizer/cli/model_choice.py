"""The model a command uses: ``ckpt=PATH``, else ``run_id``'s best checkpoint, else that of
the best finished run of the configured store. MLflow is imported only when a run has to be
looked up, so ``ckpt=PATH`` starts fast."""

from omegaconf import DictConfig

from digit_recognizer.errors import ModelUnavailable
from digit_recognizer.model.checkpoints import Classifier, load_classifier


def choose_model(cfg: DictConfig) -> Classifier:
    """The model ``cfg`` names (``ckpt``, ``run_id``, ``select_by``, ``logger``); none with
    ``logger=none`` and no ``ckpt``."""
    logger = cfg.get("logger") or {}
    return choose_classifier(
        cfg.get("ckpt"),
        cfg.get("run_id"),
        logger.get("tracking_uri", ""),
        logger.get("experiment_name", ""),
        cfg.get("select_by"),
    )


def choose_classifier(
    ckpt: str | None,
    run_id: str | None,
    tracking_uri: str,
    experiment: str,
    select_by: str | None = None,
) -> Classifier:
    """The model to use: ``ckpt`` if given, else ``run_id``'s best checkpoint, else that of the
    finished run with the highest ``select_by`` metric (default ``selection.SELECT_BY``)."""
    if ckpt:
        return load_classifier(ckpt)
    if not tracking_uri:
        raise ModelUnavailable("No tracking store to find a model in; pass ckpt=PATH.")
    from digit_recognizer.tracking.selection import SELECT_BY, find_best_checkpoint

    path, description, chosen_run = find_best_checkpoint(
        tracking_uri, experiment, run_id, select_by or SELECT_BY
    )
    classifier = load_classifier(path)
    classifier.source, classifier.run_id = description, chosen_run
    return classifier

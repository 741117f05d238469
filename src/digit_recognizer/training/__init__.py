"""One training run: its config checked (``schema``, ``config_checks``), the LightningModule
(``module``), the Trainer and run built and fitted (``train``), what is recorded in MLflow
(``recording``), resuming (``resume``), callbacks and the machine's fast paths (``hardware``).
Lightning lives here, never in ``model``."""

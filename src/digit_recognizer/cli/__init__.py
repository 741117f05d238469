"""What the scripts in ``scripts/`` share: start-up (``startup``), command-line arguments made
safe for Hydra (``arguments``), one-line mistakes and exit codes (``exits``), signals
(``signals``), option schemas (``options``) and the model a command uses (``model_choice``)."""

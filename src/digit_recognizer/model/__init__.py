"""The nets and what turns one into answers: plain ``nn.Module``s rebuilt from a checked spec
(``nets``), normalise -> net -> calibrated softmax (``probabilities``), temperature scaling
(``calibration``) and checkpoints loaded as data, never code (``checkpoints``). Plain torch:
nothing here imports Lightning or MLflow, so inference starts fast."""

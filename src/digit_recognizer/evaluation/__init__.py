"""Scoring a trained model away from training: the MNIST test split, re-drawn uploads, and
the figures and metrics recorded on its run (``scores``)."""

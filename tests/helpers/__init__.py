"""What the tests share, by concern: ``paths``, ``data`` (tiny MNIST files), ``configs``
(Hydra compose), ``processes`` (scripts as subprocesses), ``servers`` (loopback servers and
Chromium), ``stores`` (MLflow) and ``images``. Tests import from the module that owns a
helper; no test module imports another."""

"""MLflow: the store (``store``), dead runs (``stale``), run names and params (``naming``),
which run's model to use (``selection``), runs side by side (``comparison``), the pyfunc
model (``mlflow_model``) and the figures logged with a run (``plots``)."""

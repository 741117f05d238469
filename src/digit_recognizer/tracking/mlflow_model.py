"""A checkpoint as an MLflow model: a ``torch.export`` graph from pixels to probabilities.

The graph (MLflow's pickle-free "pt2" format) needs neither this package nor a pickle to load,
so ``mlflow models serve`` and ``mlflow.pyfunc.load_model`` work wherever torch is installed.
Input: float32 pixels in [0, 1], shape (N, 1, 28, 28), a white digit on black as in MNIST (what
``images.centring.to_mnist_array`` returns, divided by 255). Output: probabilities, shape (N, 10).
"""

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from digit_recognizer.labels import IMAGE_SIZE, NUM_CLASSES
from digit_recognizer.model.checkpoints import load_classifier

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo

log = logging.getLogger(__name__)

# What MLflow refuses in a logged model's name (mlflow.utils.validation).
_NOT_IN_NAMES = re.compile(r"[/:.%\"']")


def logged_model_name(net: str, run_name: str) -> str:
    """The logged model's name: its net and its run (``SeedCNN-seed_cnn-lr3e-3-1207-1500-a3f9``),
    so that the experiment's Models tab tells the models apart."""
    return _NOT_IN_NAMES.sub("_", f"{net}-{run_name}")


def log_checkpoint_as_model(
    tracking_uri: str,
    run_id: str,
    checkpoint: str | Path,
    examples: torch.Tensor,
    registered_name: str | None = None,
    step: int = 0,
) -> "ModelInfo":
    """Log ``checkpoint`` as the MLflow model of run ``run_id``; register it when a name is given.
    The model is linked to the run's metrics logged at ``step`` (its final scores).

    ``examples``: at least two uint8 digits, (N, 28, 28) or (N, 1, 28, 28), kept as the input
    example. Two or more let ``torch.export`` keep the batch dimension dynamic (a batch of one
    would freeze it at 1).
    """
    import mlflow
    import mlflow.pytorch
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    if len(examples) < 2:
        raise ValueError("The input example needs at least two images (a dynamic batch size).")
    classifier = load_classifier(checkpoint)
    model = classifier.model  # normalise -> net -> softmax, in eval mode
    example = (examples.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).float() / 255.0).numpy()
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 1, IMAGE_SIZE, IMAGE_SIZE))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_CLASSES))]),
    )
    # The logged model belongs to the run's experiment; MLflow reads both from its global state.
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    mlflow.set_experiment(experiment_id=run.info.experiment_id)
    started = time.perf_counter()
    info = mlflow.pytorch.log_model(
        model,
        name=logged_model_name(str(classifier.spec.get("name", "net")), run.info.run_name),
        run_id=run_id,
        step=step,
        signature=signature,
        input_example=example,
        serialization_format="pt2",
        # Listing the requirements skips MLflow's inference of them (seconds in a subprocess).
        pip_requirements=[_pinned("torch"), _pinned("numpy")],
        registered_model_name=registered_name,
        await_registration_for=60,
    )
    log.info(
        "Logged MLflow model %s in %.2f s%s.",
        info.model_uri,
        time.perf_counter() - started,
        f" as {registered_name} version {info.registered_model_version}" if registered_name else "",
    )
    return info


def _pinned(package: str) -> str:
    from importlib.metadata import version

    # A local build tag (2.14.1+cu130) names a wheel that no package index serves.
    return f"{package}=={version(package).split('+')[0]}"


def register_run_model(
    tracking_uri: str,
    run_id: str,
    checkpoint: str | Path,
    name: str,
    examples: Callable[[], torch.Tensor],
) -> str:
    """Register run ``run_id``'s MLflow model under ``name``; returns the new version number.

    A run trained with ``log_model=false`` gets its model logged from ``checkpoint`` first
    (``examples`` supplies the input example; it is called only then).
    """
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    logged = [output.model_id for output in (run.outputs.model_outputs if run.outputs else [])]
    if not logged:
        final_step = int(run.data.metrics.get("epoch", 0))  # where the final scores are
        info = log_checkpoint_as_model(
            tracking_uri, run_id, checkpoint, examples(), name, step=final_step
        )
        return str(info.registered_model_version)
    mlflow.set_tracking_uri(tracking_uri)  # register_model looks the logged model up there
    version = mlflow.register_model(f"models:/{logged[-1]}", name, await_registration_for=60)
    return str(version.version)

"""What a checked training config needs from the machine before anything is built: its share
of the cores when Hydra runs several jobs side by side, and the MNIST files in place."""

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from digit_recognizer.data.mnist_files import ensure_files
from digit_recognizer.training import hardware


def prepare_machine(cfg: DictConfig) -> None:
    """Set torch's threads for this job and fetch (or check) the data ``cfg.data`` names."""
    jobs = parallel_jobs()
    if jobs > 1:  # jobs side by side on one machine: each gets its share of the cores
        torch.set_num_threads(hardware.threads_per_job(jobs))
    ensure_files(cfg.data.root, cfg.data.download, cfg.data.get("mirrors"))


def parallel_jobs() -> int:
    """How many Hydra jobs run side by side with this one (1 outside the joblib launcher)."""
    if not HydraConfig.initialized():
        return 1
    launcher = HydraConfig.get().launcher
    return int(launcher.get("n_jobs") or 1) if "joblib" in str(launcher.get("_target_")) else 1

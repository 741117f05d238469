"""What the machine runs fast: the precision ``trainer.precision=auto`` picks, threads per job."""

import os

import torch

# oneDNN's CPU ISA levels from which bf16 runs natively (AVX512-BF16 or AMX); below them it is
# emulated and about 11x slower than fp32. ONEDNN_MAX_CPU_ISA caps what oneDNN may use.
_BF16_ISAS = ("AVX512_CORE_BF16", "AVX10_1_512", "AVX512_CORE_AMX", "ALL", "DEFAULT")
_ISA_ORDER = (
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
    *_BF16_ISAS,
)


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere: no bf16 assumed)."""
    try:
        with open("/proc/cpuinfo") as info:
            line = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return set()
    return set(line.partition(":")[2].split())


def cpu_runs_bf16() -> bool:
    """True when this CPU computes bf16 natively and oneDNN is allowed to use it."""
    native = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").strip().upper()
    if cap in _ISA_ORDER:
        return native and _ISA_ORDER.index(cap) >= _ISA_ORDER.index(_BF16_ISAS[0])
    return native


def auto_precision(accelerator: str) -> str:
    """bf16 autocast where the hardware runs bf16 natively, else full fp32."""
    wants_gpu = accelerator in ("gpu", "cuda") or (
        accelerator == "auto" and torch.cuda.is_available()
    )
    if wants_gpu:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return "bf16-mixed" if cpu_runs_bf16() else "32-true"


def threads_per_job(parallel_jobs: int) -> int:
    """Torch threads for one of ``parallel_jobs`` jobs sharing this machine's cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, parallel_jobs))

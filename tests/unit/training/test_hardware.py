"""trainer.precision=auto and threads per job: what a laptop without native bf16 gets."""

import os

import pytest

from digit_recognizer.training import hardware


@pytest.mark.parametrize(
    ("flags", "cap", "expected"),
    [
        ({"avx2", "avx512f", "avx512_bf16"}, None, "bf16-mixed"),
        ({"avx2", "amx_bf16", "amx_tile"}, "ALL", "bf16-mixed"),
        ({"avx2", "avx512f", "avx512_bf16"}, "AVX2", "32-true"),  # ONEDNN_MAX_CPU_ISA=AVX2
        ({"avx2", "avx512f", "avx512_bf16"}, "avx512_core", "32-true"),
        ({"avx2", "fma"}, None, "32-true"),  # most laptops
    ],
)
def test_auto_precision_on_cpus(
    monkeypatch: pytest.MonkeyPatch, flags: set[str], cap: str | None, expected: str
) -> None:
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    if cap is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert hardware.auto_precision("cpu") == expected


def test_this_machine_under_an_avx2_cap_trains_in_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert hardware.auto_precision("cpu") == "32-true"


def test_parallel_jobs_split_the_cores() -> None:
    cores = len(os.sched_getaffinity(0))
    assert hardware.threads_per_job(1) == cores
    assert hardware.threads_per_job(cores * 4) == 1

"""Runs whose process died: a RUNNING run written by a process of this host that is gone is
marked KILLED, saying why, the next time the experiment is opened."""

import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

# Who wrote a run: with these a RUNNING run whose process is gone is told from a live one.
HOST_TAG, PID_TAG, PROCESS_START_TAG = "host", "pid", "process_start"
STALE_REASON_TAG = "killed_reason"

log = logging.getLogger(__name__)


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if unknown.
    With the pid it names one process: a pid reused by a later process has another start."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in (...) may hold spaces


def is_stale(run: "Run", host: str | None = None) -> bool:
    """True for a RUNNING run written by a process of this host that no longer exists."""
    tags = run.data.tags
    if run.info.status != "RUNNING" or tags.get(HOST_TAG) != (host or socket.gethostname()):
        return False
    try:
        pid = int(tags.get(PID_TAG, ""))
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, owned by someone else
    recorded = tags.get(PROCESS_START_TAG)
    return bool(recorded) and process_start(pid) not in (None, recorded)


def mark_stale_runs(client: "MlflowClient", experiment_id: str) -> list[str]:
    """End this host's RUNNING runs whose process is gone as KILLED, saying why; their ids."""
    running = client.search_runs([experiment_id], "attributes.status = 'RUNNING'", max_results=500)
    stale = [run for run in running if is_stale(run)]
    for run in stale:
        pid = run.data.tags.get(PID_TAG)
        client.set_tag(run.info.run_id, STALE_REASON_TAG, f"process {pid} ended without a status")
        client.set_terminated(run.info.run_id, "KILLED")
        log.warning("Marked run %s KILLED: its process %s is gone.", run.info.run_id, pid)
    return [run.info.run_id for run in stale]

"""Serve the draw-or-upload page and the JSON API: ``python scripts/serve.py`` (``make serve``)."""

import json
import os
import sys

import hydra
from omegaconf import DictConfig

from digit_recognizer.cli.arguments import path_arguments
from digit_recognizer.cli.exits import report_user_errors, run_main
from digit_recognizer.cli.startup import config_dir

CONFIG_DIR = config_dir(__file__)

# Options naming files: their values reach the config exactly as typed.
PATH_KEYS = ("ckpt",)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="serve")
@report_user_errors
def main(cfg: DictConfig) -> None:
    import uvicorn

    from digit_recognizer.cli.model_choice import choose_model
    from digit_recognizer.cli.options import ServeConfig, checked_options
    from digit_recognizer.serving.app import LOCAL_HOSTS
    from digit_recognizer.serving.server import (
        SETTINGS_VARIABLE,
        HeadDeadlineProtocol,
        check_address,
        default_workers,
        log_config,
    )

    checked_options(ServeConfig, cfg)
    check_address(cfg.host, cfg.port)
    classifier = choose_model(cfg)  # once, here: a bad choice is one line before any worker
    workers = cfg.workers or default_workers()
    print(f"model: {classifier.source}; {workers} worker process(es)", file=sys.stderr)
    bound = () if cfg.host in ("0.0.0.0", "::") else (cfg.host,)
    # Each worker process builds the app from these (serving.server.app_from_environment).
    os.environ[SETTINGS_VARIABLE] = json.dumps(
        {
            "checkpoint": classifier.checkpoint,
            "source": classifier.source,
            "run_id": classifier.run_id,
            "max_upload_bytes": int(cfg.max_upload_mb * 1024 * 1024),
            "hosts": [*LOCAL_HOSTS, *bound, *cfg.hosts],
            "threads": cfg.threads,
            "queue": cfg.queue,
            "body_timeout_s": cfg.body_timeout_s,
            "time_budget_s": cfg.time_budget_s,
            "bodies_budget_bytes": int(cfg.bodies_budget_mb * 1024 * 1024),
            "min_body_rate": cfg.min_body_kb_per_s * 1024,
            "head_timeout_s": cfg.head_timeout_s,
            "mode": cfg.mode,
            "min_confidence": cfg.min_confidence,
        }
    )
    uvicorn.run(
        "digit_recognizer.serving.server:app_from_environment",
        factory=True,
        workers=workers,
        host=cfg.host,
        port=cfg.port,
        http=HeadDeadlineProtocol,  # closes connections whose request head is late
        log_config=log_config(),  # one line per refused client per 10 s at most
        limit_concurrency=cfg.max_connections,  # per worker; beyond: 503, connection closed
        timeout_keep_alive=5,  # idle keep-alive connections are closed after 5 s
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers: 16 KB at most
    )


if __name__ == "__main__":
    sys.argv[1:] = path_arguments(sys.argv[1:], PATH_KEYS, list_key=None)
    run_main(main)

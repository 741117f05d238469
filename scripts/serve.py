"""Serve the draw-or-upload page and the JSON API: ``python scripts/serve.py`` (``make serve``)."""

import sys

import hydra
from _entry import CONFIG_DIR, checked_options, choose_model, path_arguments, report_user_errors
from omegaconf import DictConfig

# Options naming files: their values reach the config exactly as typed.
PATH_KEYS = ("ckpt",)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="serve")
@report_user_errors
def main(cfg: DictConfig) -> None:
    import torch
    import uvicorn

    from digit_recognizer.web import LOCAL_HOSTS, create_app

    checked_options("ServeConfig", cfg)
    classifier = choose_model(cfg)
    print(f"model: {classifier.source}", file=sys.stderr)
    # One image per request: intra-op threads would only fight the concurrent requests.
    torch.set_num_threads(1)
    bound = () if cfg.host in ("0.0.0.0", "::") else (cfg.host,)
    app = create_app(
        classifier,
        max_upload_bytes=int(cfg.max_upload_mb * 1024 * 1024),
        hosts=(*LOCAL_HOSTS, *bound, *cfg.hosts),
        threads=cfg.threads,
    )
    uvicorn.run(
        app,
        host=cfg.host,
        port=cfg.port,
        log_level="info",
        limit_concurrency=cfg.max_connections,  # beyond: 503 and the connection closed
        timeout_keep_alive=5,  # idle keep-alive connections are closed after 5 s
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers: 16 KB at most
    )


if __name__ == "__main__":
    sys.argv[1:] = path_arguments(sys.argv[1:], PATH_KEYS, list_key=None)
    main()

"""The web page and JSON API (``app``, a FastAPI app) and the uvicorn server around it with
deadlines and limits for hostile clients (``server``)."""

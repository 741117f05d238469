"""The web app: a page to draw or upload a digit, and a JSON API over the same predict path.

Every request body is read as a stream and counted, whatever its framing (Content-Length,
chunked, multipart, JSON), and refused with 413 the moment it passes the limit. Decoding,
preprocessing and inference run on a bounded pool of threads, off the event loop, so
``/health`` stays fast; a request beyond the pool and its short queue gets 503 at once.
"""

import base64
import binascii
import html
import io
import json
import os
import time
from pathlib import Path

import anyio
import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image
from pydantic import BaseModel
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect

from digit_recognizer.errors import ImageRejected, NotADigit
from digit_recognizer.images.decode import IMAGE_SUFFIXES
from digit_recognizer.model.checkpoints import Classifier
from digit_recognizer.reading.pieces import to_mnist_digits
from digit_recognizer.reading.reader import read_all

PAGE = Path(__file__).with_name("static") / "index.html"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
NO_REFUSAL_NOTE = (
    "This model has ten outputs: it reads anything as a digit and marks doubtful answers "
    "unsure. To refuse letters and scribbles, train one that knows 'not a digit': "
    "python scripts/train.py experiment=reader"
)
# A tiny SVG digit for the browser tab, so /favicon.ico is not a 404.
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16"'
    b' rx="3" fill="#2f6fde"/><text x="8" y="13" font-size="12" text-anchor="middle"'
    b' fill="#fff" font-family="sans-serif">7</text></svg>'
)


class Part(BaseModel):
    digit: int
    confidence: float
    probabilities: list[float]
    box: list[int] | None  # left, top, width, height in the image's pixels


class Prediction(BaseModel):
    digit: int | None  # null: not a single digit (see number and reason)
    number: str | None = None  # a row of digits read left to right
    reason: str | None = None  # why it is not a digit (or not a number)
    unsure: bool = False  # an answer the model is not sure of (it cannot refuse: see doubt)
    doubt: str | None = None  # why it is unsure
    confidence: float | None = None
    probabilities: list[float] = []
    digits: list[Part] = []  # every digit read, left to right, with its box
    model: str
    preview: str | None = None  # what the model saw (28x28 per digit), as a PNG data URL


class Health(BaseModel):
    status: str
    model: str
    knows_not_a_digit: bool  # false: letters and scribbles are read as (unsure) digits
    note: str | None = None


def create_app(
    classifier: Classifier,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    hosts: tuple[str, ...] = LOCAL_HOSTS,
    threads: int = max(1, min(4, os.cpu_count() or 1)),
    queue: int = 64,
    body_timeout_s: float = 10.0,
    time_budget_s: float = 10.0,
    mode: str = "auto",
    min_confidence: float | None = None,
    bodies_budget_bytes: int = 128 * 1024 * 1024,
    min_body_rate: float = 64 * 1024,
    body_grace_s: float = 2.0,
) -> FastAPI:
    """A FastAPI app answering with ``classifier``. Uploads over ``max_upload_bytes`` get 413;
    a Host header outside ``hosts`` gets 400; more than ``threads + queue`` predictions in
    flight get 503 with Retry-After. A body that has not fully arrived ``body_timeout_s``
    after the head gets 408; a request still waiting for a worker thread ``time_budget_s``
    after its body arrived gets 503 without being decoded (decoding itself is bounded by
    the decode budget of ``images.decode``, reading by ``reading.lattice.MAX_PARTS``). The
    bodies of all requests in flight hold at most ``bodies_budget_bytes``: one that would
    pass it gets 503 before its body is read. A body that arrives slower than
    ``min_body_rate`` bytes/s after its first ``body_grace_s`` gives its slot up (408). ``mode`` and ``min_confidence``: as for
    predict.py (a digit, a number, or "not a digit" with the reason, all 200)."""
    app = FastAPI(title="digit-recognizer", summary="Recognise a handwritten digit.")
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))
    # The file picker offers what the server reads: image/* alone hides HEIC and AVIF where
    # the system knows no MIME type for them.
    note = "" if classifier.knows_not_a_digit else html.escape(NO_REFUSAL_NOTE)
    page = (
        PAGE.read_text()
        .replace("__IMAGE_TYPES__", ",".join(["image/*", *sorted(IMAGE_SUFFIXES)]))
        .replace("__MODEL_NOTE__", note)
    )
    # base64 in JSON is 4/3 of the file, plus the form or JSON around it.
    body_limit = max_upload_bytes * 4 // 3 + 64 * 1024
    in_flight = 0  # touched only on the event loop
    budget = _BodyBudget(bodies_budget_bytes)
    # Worker threads: a request waits for one at most until its deadline (``waiting``); the
    # thread pool itself then never makes it wait (``running`` has the same capacity).
    waiting, running = anyio.CapacityLimiter(threads), anyio.CapacityLimiter(threads)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml")

    @app.get("/health")
    async def health() -> Health:
        return Health(
            status="ok",
            model=classifier.source,
            knows_not_a_digit=classifier.knows_not_a_digit,
            note=None if classifier.knows_not_a_digit else NO_REFUSAL_NOTE,
        )

    @app.post(
        "/api/predict",
        responses={
            400: {"description": "not a digit image"},
            413: {"description": "too large"},
            503: {"description": "busy: retry after the Retry-After seconds"},
        },
    )
    async def predict(request: Request) -> Response:
        """Send an image as multipart form field ``file``, JSON ``{"image": "data:image/png;base64,..."}``,
        or the image itself as the body (``Content-Type: image/png``, ``image/jpeg``, ...)."""
        nonlocal in_flight
        if in_flight >= threads + queue:
            return _busy()
        declared = request.headers.get("content-length", "")
        expected = int(declared) if declared.isdigit() and len(declared) < 12 else 0
        if expected > body_limit:
            raise _too_large(max_upload_bytes)
        if not budget.take(expected):
            return _busy()
        in_flight += 1
        held = expected
        try:
            try:
                with anyio.fail_after(body_timeout_s):
                    body = await _read_body(
                        request, body_limit, max_upload_bytes, min_body_rate, body_grace_s
                    )
                if len(body) > held:  # chunked, or more than declared: count it now
                    if not budget.take(len(body) - held):
                        return _busy()
                    held = len(body)
            except ClientDisconnect:
                return Response(status_code=499)  # nobody is left to answer
            except _TooSlow:
                return _timed_out(f"the body arrived slower than {min_body_rate / 1024:g} KB/s")
            except TimeoutError:
                return _timed_out(f"the body did not arrive within {body_timeout_s:g} s")
            data = await _image_bytes(request, body, max_upload_bytes)
            del body  # the image alone is kept while it waits
            deadline = time.monotonic() + time_budget_s
            try:
                with anyio.fail_after(time_budget_s):
                    await waiting.acquire()
            except TimeoutError:
                return _busy()  # no thread came free within the time budget
            try:
                return await anyio.to_thread.run_sync(
                    _answer, classifier, data, deadline, mode, min_confidence, limiter=running
                )
            finally:
                waiting.release()
        finally:
            in_flight -= 1
            budget.give_back(held)

    return app


def _answer(
    classifier: Classifier, data: bytes, deadline: float, mode: str, min_confidence: float | None
) -> JSONResponse:
    """Decode, preprocess and read one image (runs on a worker thread), unless it waited for
    the thread past its ``deadline``: its client is better told to retry."""
    if time.monotonic() > deadline:
        return _busy()
    try:
        found: list | NotADigit = to_mnist_digits(data, mode)
    except NotADigit as refusal:
        found = refusal
    except ImageRejected as err:
        return JSONResponse({"detail": str(err).removeprefix("upload: ")}, status_code=400)
    (reading,) = read_all(classifier, [found], min_confidence)
    single = reading.parts[0] if len(reading.parts) == 1 and not reading.is_number else None
    preview = reading.preview()
    answer = Prediction(
        digit=reading.digit,
        number=reading.number,
        reason=reading.reason,
        unsure=reading.unsure is not None,
        doubt=reading.unsure,
        confidence=single.confidence if single else None,
        probabilities=single.probabilities if single else [],
        digits=[Part(**part.as_dict()) for part in reading.parts],
        model=classifier.source,
        preview=_png_data_url(preview) if preview is not None else None,
    )
    return JSONResponse(answer.model_dump())


class _BodyBudget:
    """The bytes of all bodies in flight, against one budget (touched only on the event loop)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.used = capacity, 0

    def take(self, size: int) -> bool:
        if self.used + size > self.capacity:
            return False
        self.used += size
        return True

    def give_back(self, size: int) -> None:
        self.used -= size


class _TooSlow(Exception):
    """The body arrives slower than the minimum rate."""


async def _read_body(
    request: Request, limit: int, upload_limit: int, min_rate: float, grace_s: float
) -> bytes:
    """The whole body, counted as it streams in; 413 as soon as it passes ``limit``;
    ``_TooSlow`` when, after ``grace_s``, fewer than ``min_rate`` bytes a second came."""
    started = time.monotonic()
    chunks, size = [], 0
    stream = request.stream().__aiter__()
    while True:
        # The next bytes must come before the rate so far falls below min_rate.
        wait = started + grace_s + size / min_rate - time.monotonic()
        try:
            with anyio.fail_after(max(wait, 0.001)):
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise _TooSlow from None
        size += len(chunk)
        if size > limit:
            raise _too_large(upload_limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _timed_out(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=408, headers={"Connection": "close"})


async def _image_bytes(request: Request, body: bytes, limit: int) -> bytes:
    """The image a body carries: a multipart field, a JSON data URL, or the body itself
    (``curl --data-binary @digit.png -H 'Content-Type: image/png'``, or with no type at all,
    as ``curl -T digit.png -X POST`` sends it)."""
    content_type = request.headers.get("content-type", "").lower()  # case-insensitive (RFC 9110)
    if not content_type or content_type.startswith(("image/", "application/octet-stream")):
        data = body
    elif content_type.startswith("multipart/form-data"):
        data = await _form_file(request, body, limit)
    elif content_type.startswith("application/json"):
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as err:  # RecursionError: nested too deep
            raise HTTPException(400, "the JSON body does not parse") from err
        data = _decode_data_url(payload.get("image") if isinstance(payload, dict) else None)
    else:
        raise HTTPException(
            415,
            "send multipart/form-data (field 'file'), JSON {'image': data URL}, or the image "
            "itself as image/* or application/octet-stream",
        )
    if len(data) > limit:
        raise _too_large(limit)
    return data


async def _form_file(request: Request, body: bytes, limit: int) -> bytes:
    """The ``file`` field of a multipart body already read (and counted) in memory."""

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        async with Request(request.scope, replay).form(
            max_files=1, max_fields=4, max_part_size=limit + 1
        ) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise HTTPException(400, "send the image as the multipart field 'file'")
            return await upload.read(limit + 1)
    except HTTPException:
        raise
    except Exception as err:  # a malformed form: the parser's own words
        raise HTTPException(400, f"the multipart body does not parse ({err})") from err


def _busy() -> JSONResponse:
    return JSONResponse(
        {"detail": "busy; retry shortly"}, status_code=503, headers={"Retry-After": "1"}
    )


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"upload over {limit / (1024 * 1024):.0f} MB")


def _decode_data_url(value: object) -> bytes:
    if not isinstance(value, str) or not value.startswith("data:image/") or "," not in value:
        raise HTTPException(400, "'image' must be a data URL such as data:image/png;base64,...")
    try:
        return base64.b64decode(value.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError) as err:
        raise HTTPException(400, "the data URL is not valid base64") from err


def _png_data_url(digit: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(digit).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

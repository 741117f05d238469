"""The web app: a page to draw or upload a digit, and a JSON API over the same predict path."""

import base64
import binascii
import io
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from PIL import Image
from pydantic import BaseModel

from digit_recognizer.inference import Classifier
from digit_recognizer.preprocess import ImageRejected, to_mnist_array

PAGE = Path(__file__).with_name("static") / "index.html"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class Prediction(BaseModel):
    digit: int
    confidence: float
    probabilities: list[float]
    model: str
    preview: str  # the 28x28 image the model saw, as a PNG data URL


class Health(BaseModel):
    status: str
    model: str


def create_app(classifier: Classifier, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """A FastAPI app answering with ``classifier``; uploads over ``max_upload_bytes`` get 413."""
    app = FastAPI(title="digit-recognizer", summary="Recognise a handwritten digit.")
    page = PAGE.read_text()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/health")
    def health() -> Health:
        return Health(status="ok", model=classifier.source)

    @app.post(
        "/api/predict",
        responses={400: {"description": "not a digit image"}, 413: {"description": "too large"}},
    )
    async def predict(request: Request) -> Prediction:
        """Send an image as multipart form field ``file``, or JSON ``{"image": "data:image/png;base64,..."}``."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_upload_bytes + 64 * 1024:
            raise _too_large(max_upload_bytes)
        data = await _read_image_bytes(request, max_upload_bytes)
        try:
            digit = to_mnist_array(data)
        except ImageRejected as err:
            raise HTTPException(400, str(err).removeprefix("upload: ")) from err
        probabilities = classifier.predict(digit[None]).squeeze(0).tolist()
        best = int(np.argmax(probabilities))
        return Prediction(
            digit=best,
            confidence=probabilities[best],
            probabilities=probabilities,
            model=classifier.source,
            preview=_png_data_url(digit),
        )

    return app


async def _read_image_bytes(request: Request, limit: int) -> bytes:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=4, max_part_size=limit + 1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "send the image as the multipart field 'file'")
        data = await upload.read(limit + 1)
    elif content_type.startswith("application/json"):
        try:
            payload = await request.json()
        except ValueError as err:
            raise HTTPException(400, "the JSON body does not parse") from err
        data = _decode_data_url(payload.get("image") if isinstance(payload, dict) else None)
    else:
        raise HTTPException(
            415, "send multipart/form-data (field 'file') or JSON {'image': data URL}"
        )
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"upload over {limit // (1024 * 1024)} MB")


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

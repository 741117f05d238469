"""The web app's API: status codes with TestClient, then a real server under load."""

import base64
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digit_recognizer.model.checkpoints import load_classifier
from digit_recognizer.serving.app import create_app
from tests.helpers.images import digit_png, dot_png, png_bomb


@pytest.fixture(scope="module")
def client(tiny_checkpoint: Path) -> TestClient:
    return TestClient(create_app(load_classifier(tiny_checkpoint), hosts=("testserver",)))


def test_health_and_page(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert "last.ckpt" in health.json()["model"]
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="pad"' in page.text
    # The file picker offers every format the server reads, phones' HEIC and AVIF included.
    offered = re.search(r'<input id="file" type="file" accept="([^"]+)"', page.text)
    assert offered and {".heic", ".avif", ".png", "image/*"} <= set(offered.group(1).split(","))
    assert "http" not in page.text.split("<script>")[0].split("<style>")[0]  # no external CDN
    assert "/api/predict" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_multipart_upload_is_predicted(client: TestClient) -> None:
    response = client.post("/api/predict", files={"file": ("d.png", digit_png(), "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 <= body["digit"] <= 9 and len(body["probabilities"]) == 10
    assert abs(sum(body["probabilities"]) - 1) < 1e-4
    assert body["confidence"] == max(body["probabilities"])
    preview = Image.open(io.BytesIO(base64.b64decode(body["preview"].split(",", 1)[1])))
    assert preview.size == (28, 28)


def test_an_iphone_heic_upload_is_read_like_its_png(client: TestClient, heif_writer: None) -> None:
    photo = Image.open(io.BytesIO(digit_png())).convert("RGB")
    heic = io.BytesIO()
    photo.save(heic, "HEIF", quality=95)
    answers = [
        client.post("/api/predict", files={"file": (name, data, kind)}).json()
        for name, data, kind in (
            ("IMG_0001.HEIC", heic.getvalue(), "image/heic"),
            ("d.png", digit_png(), "image/png"),
        )
    ]
    assert answers[0]["digit"] == answers[1]["digit"] is not None


def test_png_data_url_is_predicted(client: TestClient) -> None:
    url = "data:image/png;base64," + base64.b64encode(digit_png()).decode()
    response = client.post("/api/predict", json={"image": url})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"definitely not an image", "not an image"),
        (png_bomb(), "too many pixels"),
    ],
)
def test_bad_images_get_400_with_the_cli_reason(
    client: TestClient, payload: bytes, reason: str
) -> None:
    response = client.post("/api/predict", files={"file": ("x.png", payload, "image/png")})
    assert response.status_code == 400 and reason in response.json()["detail"]
    assert client.get("/health").status_code == 200  # still serving


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "no digit found (the image is blank)"),  # a blank page
        (dot_png(), "no digit found (the ink is a speck"),  # one dot of the page's pen
    ],
)
def test_what_is_no_digit_is_answered_as_such(
    client: TestClient, payload: bytes | None, reason: str
) -> None:
    if payload is None:
        buffer = io.BytesIO()
        Image.new("L", (200, 200), 250).save(buffer, "PNG")
        payload = buffer.getvalue()
    response = client.post("/api/predict", files={"file": ("x.png", payload, "image/png")})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["digit"] is None and answer["number"] is None
    assert answer["reason"].startswith(reason) and answer["digits"] == []


def test_upload_over_5_mb_gets_413(client: TestClient) -> None:
    big = os.urandom(5 * 1024 * 1024 + 10)
    response = client.post("/api/predict", files={"file": ("big.png", big, "image/png")})
    assert response.status_code == 413
    assert client.get("/health").status_code == 200


def test_the_image_itself_as_the_body_is_read(client: TestClient) -> None:
    # curl --data-binary @digit.png -H 'Content-Type: image/png', curl -T digit.png -X POST
    # (no type at all), or any tool that sends the file as it is; types are case-insensitive.
    for content_type in ("image/png", "application/octet-stream", "IMAGE/PNG", None):
        headers = {"content-type": content_type} if content_type else {}
        response = client.post("/api/predict", content=digit_png(), headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["digit"] is not None
    response = client.post(
        "/api/predict", content=b"not an image", headers={"content-type": "image/png"}
    )
    assert response.status_code == 400 and "not an image" in response.json()["detail"]
    upper = {"content-type": "Multipart/Form-Data; boundary=b"}
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n'
    response = client.post(
        "/api/predict", content=body + digit_png() + b"\r\n--b--\r\n", headers=upper
    )
    assert response.status_code == 200, response.text


def test_other_bodies_are_refused(client: TestClient) -> None:
    assert (
        client.post(
            "/api/predict", content=b"raw", headers={"content-type": "text/plain"}
        ).status_code
        == 415
    )
    assert client.post("/api/predict", json={"image": "not a data url"}).status_code == 400
    assert (
        client.post("/api/predict", json={"image": "data:image/png;base64,@@@"}).status_code == 400
    )


def test_server_under_load_has_no_errors(server: str) -> None:
    """8 clients, 600 requests, all answered 200 (the figures: benchmarks/serve_load.py)."""
    image = digit_png()

    def client(count: int) -> list[int]:
        with httpx.Client(timeout=30) as session:
            files = {"file": ("digit.png", image, "image/png")}
            return [
                session.post(f"{server}/api/predict", files=files).status_code for _ in range(count)
            ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for batch in pool.map(client, [75] * 8) for s in batch]
    assert len(statuses) == 600 and set(statuses) == {200}

"""The app in-process: a request waiting for a busy thread is told so within the time
budget, not when a thread frees; a model that cannot refuse says so on the page and API."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from digit_recognizer.model.checkpoints import load_classifier
from digit_recognizer.serving.app import create_app
from tests.helpers.images import digit_png


class SlowModel:
    """Wraps a net so that each read takes ``seconds``: a thread held as a hard image holds it."""

    def __init__(self, model, seconds: float) -> None:
        self.model, self.seconds = model, seconds

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def all_probabilities(self, images):
        time.sleep(self.seconds)
        return self.model.all_probabilities(images)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_request_waiting_for_a_busy_thread_gets_503_within_the_time_budget(
    tiny_checkpoint: Path, anyio_backend: str
) -> None:
    classifier = load_classifier(tiny_checkpoint)
    classifier.model = SlowModel(classifier.model, seconds=4.0)
    app = create_app(classifier, hosts=("testserver",), threads=1, time_budget_s=1.0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def send() -> tuple[int, float]:
            started = time.monotonic()
            answer = await client.post(
                "/api/predict", content=digit_png(), headers={"Content-Type": "image/png"}
            )
            return answer.status_code, time.monotonic() - started

        first = asyncio.create_task(send())
        await asyncio.sleep(0.3)  # the first holds the only thread
        status, waited = await send()
        assert status == 503 and waited < 2.5  # the budget (1 s), not the 4 s read
        assert (await first)[0] == 200


def test_the_page_and_health_say_when_the_model_cannot_refuse(tiny_checkpoint: Path) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(create_app(load_classifier(tiny_checkpoint), hosts=("testserver",)))
    health = client.get("/health").json()
    assert health["knows_not_a_digit"] is False and "experiment=reader" in health["note"]
    assert "experiment=reader" in client.get("/").text
    answer = client.post(
        "/api/predict", content=digit_png(), headers={"Content-Type": "image/png"}
    ).json()
    assert answer["unsure"] is (answer["doubt"] is not None)

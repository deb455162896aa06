"""The body cap on a bare ASGI app: declared and streamed bodies over the cap are refused, others arrive intact."""
from __future__ import annotations

from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from processors.intake.limits import BodySizeLimit

CAP = 1024


async def echo_size(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


client = TestClient(BodySizeLimit(Starlette(routes=[Route("/", echo_size, methods=["POST"])]), max_bytes=CAP))


def chunks(total: int, size: int = 100) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_bodies_up_to_the_cap_pass_whole() -> None:
    assert client.post("/", content=b"x" * CAP).json() == {"size": CAP}
    assert client.post("/", content=chunks(CAP)).json() == {"size": CAP}


def test_a_declared_length_over_the_cap_is_refused() -> None:
    answer = client.post("/", content=b"x" * (CAP + 1))
    assert answer.status_code == 413
    assert answer.json() == {"errors": [{"code": "payload_too_large", "message": f"the request body exceeds {CAP} bytes"}]}


def test_a_streamed_body_is_counted_as_it_arrives() -> None:
    assert client.post("/", content=chunks(CAP + 1)).status_code == 413

"""The load generator (wrk with bench/wrk.lua) counts every answer that is not a verified one.

Driven against a small HTTP server on a thread that answers by request body: a verified answer,
a 200 whose body differs (an unexpected error), and a 500. Needs wrk (`apt-get install wrk`).
"""
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import loadgen

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

GOOD = b'{"data": {"n": 1}}'
ANSWERS = {b"good": (200, GOOD), b"wrong": (200, b'{"data": null, "errors": [{}]}'),
           b"fail": (500, b"oops")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    disable_nagle_algorithm = True  # headers and body are two writes
    seen_tokens: set[str] = set()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.seen_tokens.add(self.headers.get("Authorization", ""))
        status, answer = ANSWERS[body]
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # wrk drops its connections mid-request when its time is up


@pytest.fixture
def url() -> Iterator[str]:
    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/q"
    finally:
        server.shutdown()
        server.server_close()


def test_wrk_counts_non_200_and_unverified_answers_and_sends_each_threads_headers(
        url: str) -> None:
    # given bodies answered correctly, wrongly and with a 500, and two header sets
    requests = loadgen.Requests(url, [b"good", b"wrong", b"fail"],
                                [{"Authorization": "Bearer a"}, {"Authorization": "Bearer b"}],
                                [GOOD])

    # when wrk sends them in turn for a second on two threads
    load = loadgen.run(loadgen.locate(), requests, connections=2, threads=2, seconds=1)

    # then every answer but the verified one is counted, and both header sets were sent
    assert load.requests > 30 and load.non200 > 0 and load.unexpected > 0
    assert load.failures == load.non200 + load.unexpected + load.socket_errors
    assert load.with_errors == pytest.approx(load.requests / 3, rel=0.2)
    assert load.unexpected_sample is not None
    assert Handler.seen_tokens == {"Bearer a", "Bearer b"}
    assert 0 < load.generator_cpu_s < 1.0


def test_a_missing_wrk_is_reported_with_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCP_WRK", "/nonexistent/wrk")
    with pytest.raises(loadgen.MissingLoadGenerator, match="apt-get install wrk"):
        loadgen.locate()

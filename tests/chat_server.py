"""A real HTTP server in a thread that speaks the chat-completions shape, for endpoint-policy tests."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def game_reply(body: dict[str, Any]) -> str:
    """A clue or an abstention, read off the prompt, so that served games play to the end."""
    prompt = body["messages"][0]["content"][1]["text"]
    if "\\boxed{your clue}" in prompt:
        return "My picture has a cube. \\boxed{a large red metal cube}"
    return "I cannot tell yet. \\boxed{N/A}"


@dataclass
class ChatServer:
    """What the fake server answers: statuses to fail with first, a delay, a reply; what it was asked."""

    model: str = "tiny-served"
    reply: Callable[[dict[str, Any]], str] = game_reply
    failures: list[int] = field(default_factory=list)
    delay: float = 0.0
    echo_headers: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/v1/models":
                    return self._send(404, {"error": "no such path"})
                self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = server.failures.pop(0) if server.failures else 200
                time.sleep(server.delay)
                if status != 200:
                    detail = dict(self.headers) if server.echo_headers else "overloaded"
                    return self._send(status, {"error": detail}, {"Retry-After": "0"})
                message = {"role": "assistant", "content": server.reply(body)}
                self._send(200, {"object": "chat.completion", "choices": [{"index": 0, "message": message}]})

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    self.wfile.write(data)

        return Handler


@contextmanager
def serving(server: ChatServer) -> Iterator[ChatServer]:
    """Serve `server` on a free local port (its `url` is the /v1 base) until the block ends."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), server.handler())
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()

"""A Cloud Storage endpoint on localhost that answers every request with one HTTP status and counts
the requests. google-cloud-storage sends it what it would send to storage.googleapis.com when
STORAGE_EMULATOR_HOST names it, so a launcher's gs:// read fails at once and the same way whatever
network and credentials the machine running the tests has."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class FakeGcs:
    status: int = 503  # what every request gets; 503 is one Beam's client retries for two minutes
    requests: list[str] = field(default_factory=list)

    def downloads(self) -> list[str]:
        """The requests for an object's bytes (the client also fetches bucket metadata for its tracing,
        in a thread of its own)."""
        return [r for r in self.requests if r.startswith("/download/")]


@pytest.fixture
def fake_gcs(monkeypatch):
    """A FakeGcs serving this test's gs:// reads, reached without credentials (an anonymous client)."""
    fake = FakeGcs()

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):
            fake.requests.append(self.path)
            error = {"code": fake.status, "message": f"fake Cloud Storage: {fake.status}"}
            body = json.dumps({"error": error}).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/prep-test-credentials.json")
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

"""A Cloud Storage endpoint on localhost that answers every request with one HTTP status and counts
the requests. google-cloud-storage sends it what it would send to storage.googleapis.com when
STORAGE_EMULATOR_HOST names it, so a launcher's gs:// read fails at once and the same way whatever
network and credentials the machine running the tests has."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest


@dataclass
class FakeGcs:
    status: int = 503  # what every request gets; 503 is one Beam's client retries for two minutes
    requests: list[str] = field(default_factory=list)
    # with objects ({"bucket/name": size}), a listing of a bucket's objects is answered from them, as
    # Cloud Storage's JSON API answers it (prefix and delimiter), and every other request gets `status`
    objects: dict[str, int] = field(default_factory=dict)

    def listing(self, path: str) -> dict | None:
        """The answer to a request for a listing (GET /storage/v1/b/BUCKET/o), None for any other request."""
        url = urlparse(path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 5 or parts[:2] != ["storage", "v1"] or parts[2] != "b" or parts[4] != "o":
            return None
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter")
        items, prefixes = [], set()
        for key, size in sorted(self.objects.items()):
            bucket, name = key.split("/", 1)
            if bucket != parts[3] or not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if delimiter and delimiter in rest:
                prefixes.add(prefix + rest.split(delimiter)[0] + delimiter)
            else:
                items.append({"kind": "storage#object", "bucket": bucket, "name": name, "size": str(size),
                              "updated": "2026-12-01T10:00:00.000Z"})
        return {"kind": "storage#objects", "items": items, "prefixes": sorted(prefixes)}

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
            listing = fake.listing(self.path) if fake.objects else None
            status = 200 if listing is not None else fake.status
            error = {"code": fake.status, "message": f"fake Cloud Storage: {fake.status}"}
            body = json.dumps(listing if listing is not None else {"error": error}).encode()
            self.send_response(status)
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

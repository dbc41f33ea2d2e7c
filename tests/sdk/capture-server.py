#!/usr/bin/env python3
"""Capture server for the Sensors SDK drivers.

Stands in for slog's /sa receiver: answers every request with 200 (a 1x1 GIF
for GET, "ok" for POST), sends the CORS headers a browser needs, and appends
each request as one JSON line {"method","path","query","headers","body"} to
the output file. Used to record the real wire format of each SDK.

    python3 tests/sdk/capture-server.py OUT.jsonl [PORT]   (PORT 0 = any)

Prints "listening <port>" on stdout once it accepts connections.
"""
import http.server
import json
import sys
import urllib.parse

GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000"
    "010001000002024401003b")
KEPT_HEADERS = ("content-type", "content-length", "content-encoding",
                "origin", "referer", "user-agent", "cookie",
                "access-control-request-method",
                "access-control-request-headers", "dry-run", "connection")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, body):
        url = urllib.parse.urlsplit(self.path)
        line = {
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "headers": {k: v for k, v in ((k.lower(), v) for k, v in self.headers.items())
                        if k in KEPT_HEADERS},
            "body": body.decode("utf-8", "replace"),
        }
        with open(self.server.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")

    def cors(self):
        if self.headers.get("Connection", "").lower() == "close":
            self.send_header("Connection", "close")  # as hyper does
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Credentials", "true")

    def reply(self, ctype, payload):
        self.send_response(200)
        self.cors()
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        self.record(b"")
        if urllib.parse.urlsplit(self.path).path.endswith(".gif"):
            self.reply("image/gif", GIF)
        else:
            self.reply("text/plain", b"ok")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.record(body)
        self.reply("text/plain", b"ok")

    def do_OPTIONS(self):
        self.record(b"")
        self.send_response(204)
        self.cors()
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers",
                         self.headers.get("Access-Control-Request-Headers") or "Content-Type")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
    server.out = sys.argv[1]
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

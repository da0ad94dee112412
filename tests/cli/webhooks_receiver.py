#!/usr/bin/env python3
"""A webhook receiver for the CLI tests, on 127.0.0.1: it checks each request's
Standard Webhooks signature with its own implementation (hmac, base64; none of
wsportfolio's code), answers per path as scripted, and logs every request as a
JSON line: path, webhook-id, event type, whether the signature is valid, when
it came (monotonic seconds) and the status it answered.

Paths: /ok 200; /flaky 500 then 200; /busy 503 with Retry-After: 2 then 200;
/gone 410 then 200; /slow answers after 3 s; /hold answers after 5 s while a
file named `holding` exists in the current folder (logged as held), at once
otherwise; /outage 500 while a file named `down` exists, else as /hold.

usage: webhooks_receiver.py PORT_FILE LOG_FILE   (secret in WEBHOOK_SECRET)
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file = sys.argv[1], sys.argv[2]
secrets = [base64.b64decode(s.removeprefix("whsec_")) for s in os.environ["WEBHOOK_SECRET"].split()]
seen = {}
lock = threading.Lock()


def valid(headers, body):
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "0")
    if abs(time.time() - int(timestamp)) > 300:
        return False
    content = f"{msg_id}.{timestamp}.".encode() + body
    sent = [s[3:] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    for key in secrets:
        expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, s) for s in sent):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        arrived = time.monotonic()
        with lock:
            count = seen[self.path] = seen.get(self.path, 0) + 1
        ok = valid(self.headers, body)
        status, extra, delay, held = 200, {}, 0, False
        if not ok:
            status = 401
        elif self.path == "/flaky" and count == 1:
            status = 500
        elif self.path == "/busy" and count == 1:
            status, extra = 503, {"Retry-After": "2"}
        elif self.path == "/gone" and count == 1:
            status = 410
        elif self.path == "/slow":
            delay = 3
        elif self.path == "/outage" and os.path.exists("down"):
            status = 500
        elif self.path in ("/hold", "/outage") and os.path.exists("holding"):
            delay, held = 5, True
        try:
            event_type = json.loads(body).get("type", "")
        except ValueError:
            event_type = "?"
        with lock, open(log_file, "a") as log:
            log.write(json.dumps({"path": self.path, "id": self.headers.get("webhook-id"), "type": event_type,
                                  "valid": ok, "at": arrived, "status": status, "held": held}) + "\n")
        time.sleep(delay)
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        answer = json.dumps({"received": self.headers.get("webhook-id")}).encode()
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        try:
            self.wfile.write(answer)
        except OSError:
            pass

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()

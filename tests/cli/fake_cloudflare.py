"""A stand-in for Cloudflare's purge_cache API on 127.0.0.1, for the CLI tests.

Writes its port to the file named first, records every request as a JSON line
in the file named second, and answers as Cloudflare does, or with 500 while a
file named "fail" exists in its working folder; while a file named "stall"
exists, answers nothing.
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, calls_file = sys.argv[1], sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        call = {"method": "POST", "path": self.path, "authorization": self.headers.get("Authorization", ""),
                "content_type": self.headers.get("Content-Type", ""), "body": body}
        with open(calls_file, "a") as out:
            out.write(json.dumps(call) + "\n")
        while os.path.exists("stall"):  # holds the answer back, for a kill -9 mid-purge
            time.sleep(0.05)
        failing = os.path.exists("fail")
        answer = {"success": not failing, "errors": [], "messages": [], "result": {"id": "zone"}}
        data = json.dumps(answer).encode()
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as out:
    out.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()

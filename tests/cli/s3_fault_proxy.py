#!/usr/bin/env python3
"""An HTTP proxy for the S3 tests, on 127.0.0.1, in front of s3rver: each
request is read whole, then forwarded on a connection of its own (Connection:
close) or answered with a scripted fault instead, and logged as one line
"METHOD TARGET ACTION".

Faults come from a JSON file read at each request, so a test can change them
while the proxy runs: {"rules": [{"match": a regular expression
searched in "METHOD TARGET", "times": how many requests it hits (then it is
spent; a new script starts afresh), "action": ...}]}. Actions:
  drop         close the connection without an answer
  status       answer "status" (500, 503...) with an S3 error body of "code"
               and a Retry-After of "retry_after" when given
  stall        forward, then send the answer's headers and half its body (or
               only its status line when it has none) and stop sending
               without closing
  hold         read the request, never forward it, and wait for the client
               to go away
  close_body   close the connection after half of the request body was read

usage: s3_fault_proxy.py UPSTREAM_PORT PORT_FILE LOG_FILE FAULTS_FILE
"""
import asyncio
import json
import re
import sys

upstream_port = int(sys.argv[1])
port_file, log_file, faults_file = sys.argv[2], sys.argv[3], sys.argv[4]
spent = {}  # rule index -> requests hit
log = open(log_file, "a", buffering=1)


last_script = {"text": None}


def faults():
    try:
        with open(faults_file) as f:
            text = f.read()
    except OSError:
        return {}
    if text != last_script["text"]:  # a new script: its rules start unspent
        last_script["text"] = text
        spent.clear()
    try:
        return json.loads(text)
    except ValueError:
        return {}


def rule_for(line, rules):
    for i, rule in enumerate(rules):
        if re.search(rule["match"], line) and spent.get(i, 0) < rule.get("times", 1):
            spent[i] = spent.get(i, 0) + 1
            return rule
    return None


async def read_body(reader, length):
    body = b""
    while len(body) < length:
        chunk = await reader.read(min(65536, length - len(body)))
        if not chunk:
            raise ConnectionError("the client closed the connection mid-body")
        body += chunk
    return body


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return lines[0], headers


async def handle(reader, writer):
    try:
        while True:
            try:
                request_line, headers = await read_head(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            method, target, _ = request_line.split(" ", 2)
            line = f"{method} {target}"
            script = faults()
            rule = rule_for(line, script.get("rules", []))
            action = rule["action"] if rule else "forward"
            length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
            if action == "close_body":
                await read_body(reader, length // 2)
                log.write(f"{line} close_body\n")
                return
            body = await read_body(reader, length)
            if action == "hold":
                log.write(f"{line} hold\n")
                while await reader.read(65536):
                    pass
                return
            if action == "drop":
                log.write(f"{line} drop\n")
                return
            if action == "status":
                code = rule.get("code", "InternalError")
                payload = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                           f"<Message>injected by the test proxy</Message></Error>").encode()
                extra = f"Retry-After: {rule['retry_after']}\r\n" if "retry_after" in rule else ""
                writer.write((f"HTTP/1.1 {rule['status']} Fault\r\nContent-Type: application/xml\r\n{extra}"
                              f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
                await writer.drain()
                log.write(f"{line} status {rule['status']}\n")
                continue
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
            kept = [(n, v) for n, v in headers if n.lower() not in ("connection", "keep-alive")]
            up_writer.write((request_line + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in kept) +
                             "Connection: close\r\n\r\n").encode("latin-1") + body)
            await up_writer.drain()
            answer = await up_reader.read()
            up_writer.close()
            if action == "stall":
                end = answer.find(b"\r\n\r\n") + 4
                # Half the body; for an answer with none (an upload's), the status line only.
                writer.write(answer[: end + (len(answer) - end) // 2] if len(answer) > end else
                             answer[: answer.find(b"\r\n") + 2])
                await writer.drain()
                log.write(f"{line} stall\n")
                await asyncio.sleep(3600)
                return
            writer.write(answer)
            await writer.drain()
            log.write(f"{line} forward\n")
            return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


asyncio.run(main())

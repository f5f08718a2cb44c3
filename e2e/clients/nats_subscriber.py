#!/usr/bin/env python3
"""A NATS subscriber that shares no code with EAS: the NATS client protocol over a socket, standard library only.

    python3 nats_subscriber.py nats://127.0.0.1:4222 'eas.events.>'

Prints "ready" once the server has the subscription, then one JSON line per message:
{"subject": ..., "headers": {name: value}, "data": "<body as text>"}. Stops on SIGTERM or when the
server closes the connection.
"""
import json
import signal
import socket
import sys
from urllib.parse import urlparse


def main() -> None:
    url, subject = urlparse(sys.argv[1]), sys.argv[2]
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 4222))
    reader = sock.makefile("rb")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    info = reader.readline()
    if not info.startswith(b"INFO "):
        raise SystemExit(f"not a NATS server: {info!r}")
    connect = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1, "name": "python-subscriber"}
    sock.sendall(f"CONNECT {json.dumps(connect)}\r\nSUB {subject} 1\r\nPING\r\n".encode())

    while True:
        line = reader.readline()
        if not line:
            return
        op, *args = line.decode().rstrip("\r\n").split(" ")
        if op == "PING":
            sock.sendall(b"PONG\r\n")
        elif op == "PONG":
            print("ready", flush=True)
        elif op == "MSG":  # MSG <subject> <sid> [reply-to] <#bytes>
            body = reader.read(int(args[-1]) + 2)[:-2]
            emit(args[0], {}, body)
        elif op == "HMSG":  # HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
            header_bytes, total = int(args[-2]), int(args[-1])
            block = reader.read(total + 2)[:-2]
            emit(args[0], parse_headers(block[:header_bytes]), block[header_bytes:])
        elif op == "-ERR":
            raise SystemExit(line.decode().strip())


def parse_headers(block: bytes) -> dict:
    # "NATS/1.0\r\nName: value\r\n...\r\n\r\n"
    headers = {}
    for entry in block.decode().split("\r\n")[1:]:
        if ":" in entry:
            name, value = entry.split(":", 1)
            headers[name.strip()] = value.strip()
    return headers


def emit(subject: str, headers: dict, body: bytes) -> None:
    print(json.dumps({"subject": subject, "headers": headers, "data": body.decode()}), flush=True)


if __name__ == "__main__":
    main()

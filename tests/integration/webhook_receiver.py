#!/usr/bin/python3
"""A webhook receiver for the integration tests: a real HTTP server on
loopback that checks every request's Standard Webhooks signature with its
own implementation of the specification's algorithm (not ECCR's code),
after checking that implementation against the specification's published
example, and records what it got.

POST /NAME: the body is an ECCR event envelope.  Each request is appended
to DIR/NAME.jsonl as {"id", "timestamp", "received", "verified", "type",
"event_id", "status", "x_eccr_test"}.  How it answers is read from
DIR/NAME.behaviour when that file exists, a JSON object:
  {"status": 500, "times": 1, "retry_after": "2", "hang_s": 0, "only": "tag"}
meaning: answer status (after hang_s seconds without answering) to the
next `times` requests whose body contains `only` (all, without it), then
200 again (times counts down in the file).
A request whose signature does not verify is answered 401.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 300

# The example of the specification (and of every library implementing it).
SPEC = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": "1614265330",
    "body": b'{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}


def key_of(secret):
    if secret.startswith("whsec_"):
        secret = secret[len("whsec_"):]
    return base64.b64decode(secret, validate=True)


def sign(key, msg_id, timestamp, body):
    mac = hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body,
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(key, msg_id, timestamp, body, header):
    """The header holds space-separated "version,signature" pairs."""
    want = sign(key, msg_id, timestamp, body)
    return any(hmac.compare_digest(s, want) for s in (header or "").split(" ") if s)


class State:
    lock = threading.Lock()
    dir = "."
    key = b""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # quiet: the tests read the records
        pass

    def setup(self):
        super().setup()
        # The head and the body of an answer go out in two writes: without
        # this, Nagle holds the second until the client's delayed ACK
        # (40 ms a request), as no real server would.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def behaviour(self, name, body):
        path = os.path.join(State.dir, name + ".behaviour")
        with State.lock:
            try:
                with open(path) as f:
                    b = json.load(f)
            except (OSError, ValueError):
                return {}
            if b.get("times", 0) <= 0 or b.get("only", "").encode() not in body:
                return {}
            b["times"] -= 1
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(b, f)
            os.replace(tmp, path)
            return b

    def do_POST(self):
        name = self.path.strip("/").split("?")[0] or "root"
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg_id = self.headers.get("webhook-id", "")
        ts = self.headers.get("webhook-timestamp", "")
        ok = (bool(msg_id) and ts.isdigit() and abs(time.time() - int(ts)) <= TOLERANCE_S and
              verify(State.key, msg_id, ts, body, self.headers.get("webhook-signature")))
        try:
            env = json.loads(body)
        except ValueError:
            env = {}
        b = self.behaviour(name, body) if ok else {}
        status = b.get("status", 200) if ok else 401
        record = {"id": msg_id, "timestamp": ts, "received": time.time(), "verified": ok,
                  "type": env.get("type"), "event_id": env.get("id"), "status": status,
                  "episode_id": env.get("episode_id"), "hang_s": b.get("hang_s", 0),
                  "x_eccr_test": self.headers.get("X-ECCR-Test")}
        with State.lock:
            with open(os.path.join(State.dir, name + ".jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
        if b.get("hang_s"):
            time.sleep(b["hang_s"])
        reply = json.dumps({"status": status}).encode()
        self.send_response(status)
        if b.get("retry_after"):
            self.send_header("Retry-After", str(b["retry_after"]))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--pid-file")
    a = ap.parse_args()
    if sign(key_of(SPEC["secret"]), SPEC["id"], SPEC["timestamp"], SPEC["body"]) != SPEC["signature"]:
        print("webhook_receiver: the verifier does not reproduce the specification's example",
              file=sys.stderr)
        return 2
    State.dir = a.dir
    with open(a.secret_file) as f:
        State.key = key_of(f.read().strip())
    os.makedirs(a.dir, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    if a.pid_file:
        with open(a.pid_file, "w") as f:
            f.write(str(os.getpid()))
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

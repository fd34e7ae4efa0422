#!/usr/bin/python3
"""bench/realtime.py - WebSocket fan-out figures for bench/realtime.

Clients are raw sockets (handshake and frame parsing by hand, one selector
loop) so that the client side costs little next to what it measures.
Latency is taken from the moment the PATCH's 200 response reaches the
driver (just after COMMIT) to the moment a client's socket has the event
frame; it therefore includes eccr-fcgi's dispatcher, broadcast-ws's
pg_notify, PostgreSQL, the hub and the kernel.  The ceiling is the same
measure for a bare LISTEN connection (psycopg2), i.e. without the hub.

  realtime.py latency HUB_URL API TOKEN CONNINFO CHANNEL CLIENTS EVENTS
  realtime.py idle HUB_URL TOKEN WSD_PID CLIENTS
Prints one JSON object.
"""
import base64
import json
import os
import re
import select
import selectors
import socket
import sys
import threading
import time
import urllib.request

VERSION = re.compile(rb'"version":\s*(\d+)')


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Client:
    def __init__(self, hub, token, room):
        host, rest = hub[len("ws://"):].split(":", 1)
        port = int(rest.split("/")[0])
        self.sock = socket.create_connection((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (token, host, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("hub closed during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        self.buf = head.split(b"\r\n\r\n", 1)[1]
        if room:
            self.send(json.dumps({"type": "subscribe", "room": room}).encode())
        self.sock.setblocking(False)

    def send(self, payload):
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def frames(self):
        """Complete server frames in the buffer (payloads)."""
        out = []
        b = self.buf
        while len(b) >= 2:
            n, off = b[1] & 0x7f, 2
            if n == 126:
                if len(b) < 4:
                    break
                n, off = int.from_bytes(b[2:4], "big"), 4
            elif n == 127:
                if len(b) < 10:
                    break
                n, off = int.from_bytes(b[2:10], "big"), 10
            if len(b) < off + n:
                break
            out.append(b[off:off + n])
            b = b[off + n:]
        self.buf = b
        return out


def patcher(api, token, ep, events, sent, done):
    for i in range(events):
        body = json.dumps({"title": "Latency %d" % i}).encode()
        req = urllib.request.Request(api + "/episodes/" + ep, data=body, method="PATCH")
        req.add_header("Authorization", "Bearer " + token)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req) as r:
            v = json.loads(r.read())["version"]
            sent[v] = time.monotonic()
        time.sleep(0.02)   # 50 changes a second: latency, not throughput
    done.set()


def listen_ceiling(conninfo, channel, stop, got):
    import psycopg2
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    conn.cursor().execute("LISTEN " + channel)
    while not stop.is_set():
        if select.select([conn], [], [], 0.2)[0]:
            conn.poll()
            now = time.monotonic()
            while conn.notifies:
                n = conn.notifies.pop(0)
                m = VERSION.search(n.payload.encode())
                if m:
                    got.append((int(m.group(1)), now))
    conn.close()


def latency(hub, api, token, conninfo, channel, nclients, events):
    req = urllib.request.Request(api + "/episodes", data=json.dumps({"title": "Latency"}).encode(),
                                 method="POST")
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        ep = json.loads(r.read())["id"]
    clients = [Client(hub, token, "episode:" + ep) for _ in range(nclients)]
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    time.sleep(0.5)
    for c in clients:   # the "subscribed" answers
        try:
            c.buf += c.sock.recv(65536)
        except BlockingIOError:
            pass
        c.frames()
    sent, got_listen, received = {}, [], []
    stop, done = threading.Event(), threading.Event()
    lt = threading.Thread(target=listen_ceiling, args=(conninfo, channel, stop, got_listen))
    lt.start()
    time.sleep(0.3)
    pt = threading.Thread(target=patcher, args=(api, token, ep, events, sent, done))
    pt.start()
    deadline = None
    while True:
        for key, _ in sel.select(0.2):
            c = key.data
            now = time.monotonic()
            try:
                data = c.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                raise RuntimeError("a client was disconnected")
            c.buf += data
            for f in c.frames():
                m = VERSION.search(f)
                if m:
                    received.append((int(m.group(1)), now))
        if done.is_set() and deadline is None:
            deadline = time.monotonic() + 3
        if deadline and (time.monotonic() > deadline or len(received) >= nclients * events):
            break
    pt.join()
    stop.set()
    lt.join()
    lat = [(t - sent[v]) * 1000 for v, t in received if v in sent]
    ceil = [(t - sent[v]) * 1000 for v, t in got_listen if v in sent]
    for c in clients:
        c.sock.close()
    return {"clients": nclients, "events": events, "frames": len(received),
            "expected": nclients * events,
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat) if lat else None,
            "listen_p50_ms": pct(ceil, 50), "listen_p99_ms": pct(ceil, 99)}


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def idle(hub, token, pid, n):
    before = rss_kib(pid)
    t0 = time.monotonic()
    clients = []
    for i in range(n):
        clients.append(Client(hub, token, "episodes" if i % 2 else None))
    took = time.monotonic() - t0
    time.sleep(2)
    for c in clients:   # drain the "subscribed" answers
        try:
            c.sock.recv(4096)
        except BlockingIOError:
            pass
    after = rss_kib(pid)
    health = json.loads(urllib.request.urlopen(
        hub.replace("ws://", "http://").rsplit("/ws", 1)[0] + "/health").read())
    for c in clients:
        c.sock.close()
    return {"clients": n, "connected": health["clients"], "connect_s": round(took, 2),
            "rss_before_kib": before, "rss_after_kib": after,
            "per_client_bytes": round((after - before) * 1024 / n) if n else None}


def main():
    if sys.argv[1] == "latency":
        hub, api, token, conninfo, channel, n, events = sys.argv[2:9]
        print(json.dumps(latency(hub, api, token, conninfo, channel, int(n), int(events))))
    elif sys.argv[1] == "idle":
        hub, token, pid, n = sys.argv[2:6]
        print(json.dumps(idle(hub, token, int(pid), int(n))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

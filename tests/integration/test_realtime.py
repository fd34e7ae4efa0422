#!/usr/bin/python3
"""Realtime suite: real WebSocket clients (python3-websockets) against two
eccr-wsd hubs, with changes made through the real HTTP API (lighttpd +
eccr-fcgi) and published by the broadcast-ws sink through PostgreSQL.

Run by tests/integration/run.sh, which exports the stack's addresses.
Each test prints "ok NAME" or "FAIL NAME: why"; the exit status is 1 if
any failed.
"""
import asyncio
import hashlib
import hmac
import json
import os
import socket
import base64
import subprocess
import sys
import time
import urllib.error
import urllib.request

import websockets

import eccr_test
from eccr_test import CONFIG, http, token

HUBS = os.environ["ECCR_TEST_WSD_URLS"].split()
PG_STOP = os.environ["ECCR_TEST_PG_STOP"]
PG_START = os.environ["ECCR_TEST_PG_START"]

QUIET_S = 0.8      # how long "nothing arrives" is watched for
PATIENCE_S = 10    # how long an expected frame may take at most


def hub_get(hub, path, tok=None):
    """GET path on the hub's own HTTP port: (status, content type, body);
    (0, None, None) when it does not answer at all."""
    req = urllib.request.Request(hub.replace("ws://", "http://").rsplit("/ws", 1)[0] + path)
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()
    except OSError:
        return 0, None, None


def hub_health(hub):
    status, _, body = hub_get(hub, "/health")
    return status, json.loads(body) if body else None


EDITOR = token("rt-editor", "editor", "Realtime Editor")


def create_episode(title):
    status, ep = http("POST", "/episodes", EDITOR, {"title": title})
    assert status == 201, (status, ep)
    return ep["id"]


def patch(ep_id, title):
    status, ep = http("PATCH", "/episodes/" + ep_id, EDITOR, {"title": title})
    assert status == 200, (status, ep)
    return ep


async def connect(sub="rt-viewer", role="viewer", hub=0):
    return await websockets.connect(HUBS[hub] + "?token=" + token(sub, role),
                                    max_size=1 << 22, open_timeout=PATIENCE_S)


async def frame(ws, timeout=PATIENCE_S):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribe(ws, room):
    await ws.send(json.dumps({"type": "subscribe", "room": room}))
    f = await frame(ws)
    assert f == {"type": "subscribed", "room": room}, f
    return f


async def next_event(ws, type_=None, timeout=PATIENCE_S):
    """The next event frame (of type_, skipping others)."""
    deadline = time.monotonic() + timeout
    while True:
        f = await frame(ws, max(0.01, deadline - time.monotonic()))
        if f.get("type") == "event" and (type_ is None or f["event"]["type"] == type_):
            return f


async def nothing_more(ws, what):
    try:
        f = await asyncio.wait_for(ws.recv(), QUIET_S)
    except asyncio.TimeoutError:
        return
    raise AssertionError("%s received %s" % (what, f))


# ---------------------------------------------------------------- tests

async def test_patch_reaches_its_rooms_only():
    ep, other = create_episode("Routing"), create_episode("Elsewhere")
    in_ep, in_list = await connect(), await connect()
    in_other, in_jobs, in_user = await connect(), await connect(), await connect("rt-viewer")
    await subscribe(in_ep, "episode:" + ep)
    await subscribe(in_list, "episodes")
    await subscribe(in_other, "episode:" + other)
    await subscribe(in_jobs, "jobs")
    await subscribe(in_user, "user:rt-viewer")
    patched = patch(ep, "Routing, renamed")
    for ws, room in ((in_ep, "episode:" + ep), (in_list, "episodes")):
        f = await next_event(ws, "episode_updated")
        assert f["room"] == room, f
        ev = f["event"]
        assert ev["resource"] == {"type": "episode", "id": ep}, ev
        assert ev["episode_id"] == ep and ev["id"].isdigit(), ev
        assert ev["actor"]["id"] == "rt-editor", ev
        assert ev["data"]["title"] == "Routing, renamed", ev
        assert ev["data"]["version"] == patched["version"], ev
        assert "title" in ev["data"]["changed_fields"], ev
    for ws, what in ((in_other, "another episode's room"), (in_jobs, "the jobs room"),
                     (in_user, "a user room"), (in_ep, "the episode room, twice"),
                     (in_list, "the episodes room, twice")):
        await nothing_more(ws, what)
    for ws in (in_ep, in_list, in_other, in_jobs, in_user):
        await ws.close()


async def test_rooms_refused_and_errors_keep_the_connection():
    ws = await connect("rt-alice", "admin")
    await ws.send(json.dumps({"type": "subscribe", "room": "user:rt-bob"}))
    f = await frame(ws)
    assert f["type"] == "error" and f["code"] == "forbidden", f
    for bad in ("not json", json.dumps({"type": "dance"}), json.dumps({"type": "subscribe"}),
                json.dumps({"type": "subscribe", "room": "episode:nope"}),
                json.dumps({"type": "ping", "pad": "x" * 5000})):
        await ws.send(bad)
        f = await frame(ws)
        assert f["type"] == "error" and f["code"] == "bad_request", (bad[:40], f)
    await ws.send(b"\x01\x02")
    f = await frame(ws)
    assert f["type"] == "error" and f["code"] == "bad_request", f
    await ws.send(json.dumps({"type": "ping"}))
    assert await frame(ws) == {"type": "pong"}
    # Under 4 KiB but over the hub's 1 KiB receive buffer: assembled, served.
    await ws.send(json.dumps({"type": "ping", "pad": "y" * 3000}))
    assert await frame(ws) == {"type": "pong"}
    await subscribe(ws, "user:rt-alice")
    await ws.close()


async def test_handshake_needs_a_valid_token():
    for url in (HUBS[0], HUBS[0] + "?token=", HUBS[0] + "?token=abc.def.ghi",
                HUBS[0] + "?token=" + token("x")[:-3] + "AAA"):
        try:
            ws = await websockets.connect(url, open_timeout=PATIENCE_S)
        except websockets.exceptions.InvalidStatusCode as e:
            assert e.status_code == 401, (url[-20:], e.status_code)
            continue
        await ws.close()
        raise AssertionError("connected without a valid token: " + url[-20:])
    try:
        await websockets.connect(HUBS[0].replace("/ws", "/other") + "?token=" + token("x"))
        raise AssertionError("a path other than /ws upgraded")
    except websockets.exceptions.InvalidStatusCode as e:
        assert e.status_code == 404, e.status_code


async def test_two_hubs_both_deliver():
    a, b = await connect(hub=0), await connect(hub=1)
    await subscribe(a, "episodes")
    await subscribe(b, "episodes")
    ep = create_episode("Both hubs")
    fa, fb = await next_event(a, "episode_created"), await next_event(b, "episode_created")
    assert fa["event"]["resource"]["id"] == ep and fa["event"] == fb["event"], (fa, fb)
    await a.close()
    await b.close()


async def test_events_of_one_episode_in_order():
    ep = create_episode("Ordered")
    ws = await connect()
    await subscribe(ws, "episode:" + ep)
    for i in range(20):
        patch(ep, "Ordered %d" % i)
    ids, titles = [], []
    for i in range(20):
        f = await next_event(ws, "episode_updated")
        ids.append(int(f["event"]["id"]))
        titles.append(f["event"]["data"]["title"])
    assert ids == sorted(ids) and len(set(ids)) == 20, ids
    assert titles == ["Ordered %d" % i for i in range(20)], titles
    await nothing_more(ws, "after the 20 updates")
    await ws.close()


async def test_job_events_reach_the_jobs_room():
    ep = create_episode("With a job")
    jobs, room = await connect(), await connect()
    await subscribe(jobs, "jobs")
    await subscribe(room, "episode:" + ep)
    status, job = http("POST", "/jobs", EDITOR, {"type": "noop", "episode_id": ep,
                                                "payload": {"sleep_ms": 300}})
    assert status in (201, 202), (status, job)
    for ws in (jobs, room):
        seen = set()
        while "job_completed" not in seen:
            f = await next_event(ws)
            ev = f["event"]
            assert ev["resource"]["type"] in ("job", "worker"), f
            seen.add(ev["type"])
            if ev["type"] == "job_progress":
                # Transient: never in the outbox, so no id to deduplicate by.
                assert ev["id"] is None and 0 <= ev["data"]["progress"] <= 100, ev
        assert {"job_created", "job_started", "job_progress"} <= seen, seen
    await jobs.close()
    await room.close()


async def test_notifications_reach_their_recipient_only():
    mine, others, in_list = await connect("rt-editor", "editor"), await connect("rt-nobody"), \
        await connect()
    await subscribe(mine, "user:rt-editor")
    await subscribe(others, "user:rt-nobody")
    await subscribe(in_list, "episodes")
    ep = create_episode("Notified")   # its creator watches it, and acted
    f = await next_event(mine, "notification_created")
    ev = f["event"]
    assert f["room"] == "user:rt-editor" and ev["resource"]["type"] == "notification", f
    assert ev["episode_id"] is None and ev["data"]["user_id"] == "rt-editor", ev
    n = ev["data"]["notification"]
    assert n["type"] == "episode_created" and n["episode_id"] == ep and n["read_at"] is None, n
    await nothing_more(others, "another user's room")
    f = await next_event(in_list, "episode_created")
    await nothing_more(in_list, "the episodes room (a notification)")
    for ws in (mine, others, in_list):
        await ws.close()


async def test_announcement_reaches_its_recipients_rooms():
    tag = "%d" % os.getpid()
    subs = ["rt-ann-a" + tag, "rt-ann-b" + tag, "rt-ann-c" + tag]
    for sub in subs:   # ECCR knows a user once they acted
        status, _ = http("PUT", "/me/preferences", token(sub, "viewer"), {})
        assert status == 200, status
    clients = [await connect(sub, "viewer", hub=i % len(HUBS)) for i, sub in enumerate(subs)]
    for ws, sub in zip(clients, subs):
        await subscribe(ws, "user:" + sub)
    status, body = http("POST", "/notifications", token("rt-admin", "admin", "RT Admin"),
                        {"title": "Hub maintenance", "message": "Back soon.",
                         "recipients": subs[:2]})
    assert status == 201 and body == {"created": 2}, (status, body)
    for ws, sub in zip(clients[:2], subs[:2]):
        f = await next_event(ws, "notification_created")
        ev = f["event"]
        assert f["room"] == "user:" + sub and ev["data"]["user_id"] == sub, f
        assert ev["actor"] == {"id": "rt-admin", "name": "RT Admin"}, ev
        n = ev["data"]["notification"]
        assert n["type"] == "announcement" and n["title"] == "Hub maintenance", n
        assert n["message"] == "Back soon." and n["read_at"] is None, n
    await nothing_more(clients[2], "a user who was not named")
    for ws in clients:
        await ws.close()


async def test_presence_reaches_the_episode_room():
    ep = create_episode("Watched live")
    ws = await connect()
    await subscribe(ws, "episode:" + ep)
    reader = token("rt-reader", "viewer", "Rita Reader")
    status, body = http("GET", "/episodes/" + ep, reader)
    assert status == 200 and any(v["user_id"] == "rt-reader" for v in body["viewers"]), body
    seen = {}
    while not {"presence_joined", "episode_viewed"} <= set(seen):
        f = await next_event(ws)
        seen[f["event"]["type"]] = f["event"]
    joined = seen["presence_joined"]
    assert joined["id"] is None and joined["data"]["user_id"] == "rt-reader", joined
    assert joined["data"]["name"] == "Rita Reader", joined
    status, _ = http("DELETE", "/presence/episode/" + ep, reader)
    assert status == 204, status
    f = await next_event(ws, "presence_left")
    assert f["event"]["data"]["user_id"] == "rt-reader", f
    await ws.close()


async def test_an_expiry_nobody_reads_reaches_the_episode_room():
    """The worker's sweep announces an expiry by itself (ttl_s = 2 and
    sweep_s = 1 in this stack): its presence_left travels worker ->
    broadcast-ws -> hub like any transient event."""
    ep = create_episode("Left open")
    ws = await connect()
    await subscribe(ws, "episode:" + ep)
    idle = token("rt-idle", "viewer", "Ida Idle")
    status, _ = http("POST", "/presence/episode/%s/heartbeat" % ep, idle, {})
    assert status == 204, status
    joined = await next_event(ws, "presence_joined")
    assert joined["event"]["data"]["user_id"] == "rt-idle", joined
    t0 = time.monotonic()
    f = await next_event(ws, "presence_left", timeout=10)
    waited = time.monotonic() - t0
    ev = f["event"]
    assert ev["data"] == {"user_id": "rt-idle", "name": "Ida Idle", "reason": "expired"}, ev
    assert ev["id"] is None and ev["actor"]["id"] == "system", ev
    assert ev["episode_id"] == ep and ev["resource"] == {"type": "episode", "id": ep}, ev
    assert waited > 1.0, "announced %.1f s after joining, before the TTL ran out" % waited
    await ws.close()


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token_expiring_in(sub, seconds, leeway=60):
    """An HS256 token whose exp lies `leeway - seconds` in the past: still
    accepted thanks to the leeway, and over in `seconds`."""
    with open(os.environ["ECCR_TEST_JWT_SECRET_FILE"], "rb") as f:
        secret = f.read().rstrip(b"\n")
    now = int(time.time())
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": sub, "role": "viewer", "iat": now - 120,
                              "exp": now - leeway + seconds}).encode())
    sig = hmac.new(secret, (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64url(sig)


async def test_connection_ends_with_its_token():
    ws = await websockets.connect(HUBS[0] + "?token=" + token_expiring_in("rt-brief", 2))
    await subscribe(ws, "episodes")
    t0 = time.monotonic()
    try:
        while True:
            await asyncio.wait_for(ws.recv(), PATIENCE_S)
    except websockets.exceptions.ConnectionClosed as e:
        assert e.code == 1008 and "expired" in e.reason, (e.code, e.reason)
    took = time.monotonic() - t0
    assert 0.5 < took < 5, "closed after %.1f s" % took


def raw_stalled_client(room):
    """A client that subscribes and then never reads: a tiny receive buffer,
    the handshake and subscribe frame written by hand."""
    host, port = HUBS[0][len("ws://"):].split("/")[0].split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (token("rt-stalled", "viewer"), host, port, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = json.dumps({"type": "subscribe", "room": room}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return s


async def test_stalled_client_is_dropped_without_delaying_others():
    ep = create_episode("Busy")
    _, before = hub_health(HUBS[0])
    stalled = raw_stalled_client("episode:" + ep)
    ws = await connect()
    await subscribe(ws, "episode:" + ep)
    await asyncio.sleep(0.2)
    n = 600
    pad = "x" * 400
    received = 0

    async def reader():
        nonlocal received
        while received < n:
            await next_event(ws, "episode_updated")
            received += 1

    task = asyncio.ensure_future(reader())
    t0 = time.monotonic()
    for i in range(n):
        await asyncio.get_event_loop().run_in_executor(None, patch, ep, "Busy %d %s" % (i, pad))
    last_patch = time.monotonic()
    await asyncio.wait_for(task, PATIENCE_S)
    lag = time.monotonic() - last_patch
    assert received == n
    assert lag < 2.0, "the reading client lagged %.2f s behind the last change" % lag
    _, after = hub_health(HUBS[0])
    assert after["slow_dropped"] == before["slow_dropped"] + 1, (before, after)
    # The stalled socket, read at last, ends: close frame 1013 or EOF.
    stalled.settimeout(PATIENCE_S)
    tail = b""
    try:
        while True:
            chunk = stalled.recv(65536)
            if not chunk:
                break
            tail += chunk
    except ConnectionResetError:
        pass
    close_at = tail.rfind(b"\x88")
    if close_at >= 0 and len(tail) >= close_at + 4:
        code = int.from_bytes(tail[close_at + 2:close_at + 4], "big")
        assert code == 1013, code
    stalled.close()
    print("  %d events in %.2f s; the reader was %.0f ms behind the last change"
          % (n, last_patch - t0, lag * 1000))
    await ws.close()


async def test_hub_resumes_after_postgresql_restarts():
    a, b = await connect(hub=0), await connect(hub=1)
    await subscribe(a, "episodes")
    await subscribe(b, "episodes")
    subprocess.run([PG_STOP], check=True)
    try:
        deadline = time.monotonic() + PATIENCE_S
        while hub_health(HUBS[0])[0] != 503 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert hub_health(HUBS[0])[0] == 503, "hub did not notice PostgreSQL going away"
    finally:
        subprocess.run([PG_START], check=True)
    # Change something at once: the hub may still be reconnecting, and
    # must catch up on what was committed meanwhile.
    deadline = time.monotonic() + PATIENCE_S
    while True:
        try:
            ep = create_episode("After the restart")
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    for ws in (a, b):
        f = await next_event(ws, "episode_created", timeout=20)
        while f["event"]["resource"]["id"] != ep:
            f = await next_event(ws, "episode_created", timeout=20)
    for hub in HUBS:
        status, h = hub_health(hub)
        assert status == 200 and h["database"] == "ok", h
    await a.close()
    await b.close()


async def test_metrics_for_admins_only():
    ws = await connect()
    await subscribe(ws, "jobs")
    status, ctype, _ = hub_get(HUBS[0], "/metrics")
    assert status == 401 and ctype == "application/problem+json", (status, ctype)
    status, _, _ = hub_get(HUBS[0], "/metrics", token("rt-viewer", "viewer"))
    assert status == 403, status
    status, ctype, text = hub_get(HUBS[0], "/metrics", token("rt-admin", "admin"))
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype)
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.startswith("# HELP ") or line.startswith("# TYPE "), line
            continue
        name, value = line.split(" ")
        samples[name] = float(value)
    assert samples["eccr_wsd_clients"] >= 1 and samples["eccr_wsd_rooms"] >= 1, samples
    assert samples["eccr_wsd_listening"] == 1, samples
    assert samples["eccr_wsd_slow_dropped_total"] >= 1, samples   # the stalled test ran
    assert samples["eccr_wsd_frames_dropped_total"] >= 1, samples  # what it missed
    status, _, _ = hub_get(HUBS[0], "/nothing")
    assert status == 404, status
    await ws.close()


def replace_file(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


async def wait_for_log(path, needle, start):
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        with open(path) as f:
            f.seek(start)
            if needle in f.read():
                return
        await asyncio.sleep(0.05)
    raise AssertionError("%r never appeared in %s" % (needle, path))


async def test_sighup_reloads_and_a_broken_file_changes_nothing():
    stack = os.environ["ECCR_TEST_STACK_DIR"]
    with open(os.path.join(stack, "wsd.pid")) as f:
        pid = int(f.read())
    log = os.path.join(stack, "wsd.log")
    with open(CONFIG) as f:
        good = f.read()
    ws = await connect()
    await subscribe(ws, "episodes")
    try:
        start = os.path.getsize(log)
        replace_file(CONFIG, good + "\n[wsd]\nno_such_key = 1\n")
        os.kill(pid, 1)
        await wait_for_log(log, "reload refused", start)
    finally:
        replace_file(CONFIG, good)
    # Still serving, the old connection included.
    await ws.send(json.dumps({"type": "ping"}))
    assert await frame(ws) == {"type": "pong"}
    ep = create_episode("After a refused reload")
    f = await next_event(ws, "episode_created")
    assert f["event"]["resource"]["id"] == ep, f
    start = os.path.getsize(log)
    os.kill(pid, 1)
    await wait_for_log(log, "configuration reloaded", start)
    other = await connect()
    await subscribe(other, "jobs")
    await other.close()
    await ws.close()


TESTS = [
    test_patch_reaches_its_rooms_only,
    test_rooms_refused_and_errors_keep_the_connection,
    test_handshake_needs_a_valid_token,
    test_two_hubs_both_deliver,
    test_events_of_one_episode_in_order,
    test_job_events_reach_the_jobs_room,
    test_notifications_reach_their_recipient_only,
    test_announcement_reaches_its_recipients_rooms,
    test_presence_reaches_the_episode_room,
    test_an_expiry_nobody_reads_reaches_the_episode_room,
    test_stalled_client_is_dropped_without_delaying_others,
    test_hub_resumes_after_postgresql_restarts,
    test_sighup_reloads_and_a_broken_file_changes_nothing,
    test_metrics_for_admins_only,
    test_connection_ends_with_its_token,
]


if __name__ == "__main__":
    sys.exit(eccr_test.run("realtime", TESTS, call=lambda t: asyncio.run(asyncio.wait_for(t(), 120))))

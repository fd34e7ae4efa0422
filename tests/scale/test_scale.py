"""ECCR on several hosts (tests/scale/run.sh builds them): steady load
through the balancer while hosts and servers die and come back.  Every
assertion reads the database or the clients' own state; waits are bounded
polls (eccr_test.wait_for), never a sleep standing in for a check."""
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import websockets  # noqa: E402

import eccr_test  # noqa: E402
from eccr_test import token, wait_for  # noqa: E402

API = os.environ["ECCR_TEST_URL"]
ROOT = os.environ["ECCR_TEST_ROOT"]
CTL = os.environ["ECCR_SCALE_CTL"]
TOP = os.environ["ECCR_SCALE_TOP"]
APPS = os.environ["ECCR_SCALE_APPS"].split()
DB = os.environ["ECCR_SCALE_DB"]
WS_URL = ROOT.replace("http://", "ws://") + "/ws"

EDITOR = token("scale-editor", "editor", "Scale Editor")
VIEWER = token("scale-viewer", "viewer", "Scale Viewer")


def ctl(*args):
    subprocess.run([CTL, *args], check=True)


def sql(query, *params):
    """Rows of query (psql, tab-separated) with :'p1'.. bound by psql -v."""
    args = ["psql", DB, "-v", "ON_ERROR_STOP=1", "-qAt", "-F", "\t"]
    for i, p in enumerate(params, 1):
        args += ["-v", "p%d=%s" % (i, p)]
    r = subprocess.run(args, input=query, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("psql: %s" % r.stderr.strip())
    out = r.stdout
    return [line.split("\t") for line in out.splitlines() if line]


def request(method, url, tok=EDITOR, body=None, headers=None, timeout=10):
    """eccr_test.request as a client of the balancer sees it: status 0
    when the connection failed or timed out, any error page tolerated."""
    try:
        return eccr_test.request(method, url, tok, body, headers, timeout, lenient=True)
    except OSError:
        return 0, {}, None


RETRIED = {}     # method -> requests that needed more than one try
RETRIED_LOCK = threading.Lock()
TOOK = []        # seconds each write took until its 2xx, retries included


def retried(method, path, body=None, key=None, ctype=None, patience=40):
    """method API+path until it is answered 2xx, retrying what a dying host
    or the balancer answered (connection errors, 5xx, 409 while the first
    try is in flight) with the same Idempotency-Key: the client a
    retry-safe API is for.  Returns (status, body, tries)."""
    headers = {}
    if key:
        headers["Idempotency-Key"] = key
    if ctype:
        headers["Content-Type"] = ctype
    start = time.monotonic()
    end = start + patience
    tries = 0
    while True:
        tries += 1
        # A client gives up on an answer after 5 s (the host may be gone)
        # and tries again with the same key.
        status, _, got = request(method, API + path, body=body, headers=headers, timeout=5)
        if 200 <= status < 300:
            with RETRIED_LOCK:
                TOOK.append(time.monotonic() - start)
                if tries > 1:
                    RETRIED[method] = RETRIED.get(method, 0) + 1
            return status, got, tries
        if status not in (0, 409, 500, 502, 503, 504) or time.monotonic() > end:
            raise AssertionError("%s %s: %s %r after %d tries" % (method, path, status, got, tries))
        time.sleep(0.2)


# ---------------------------------------------------------------- load

class Load:
    """Writers through the balancer: each creates an episode (with an
    Idempotency-Key), renames it, and now and then uploads a file and
    starts a job, until stopped.  Records what was answered 2xx."""

    def __init__(self, tag, writers=4):
        self.tag = tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.created = {}      # title -> id, for every create answered 2xx
        self.jobs = []
        self.files = []
        self.errors = []
        self.threads = [threading.Thread(target=self.writer, args=(i,)) for i in range(writers)]

    def writer(self, n):
        i = 0
        while not self.stop.is_set():
            i += 1
            title = "%s w%d #%d" % (self.tag, n, i)
            try:
                self.one(title, i)
            except Exception as e:   # recorded and failed on in check()
                with self.lock:
                    self.errors.append(repr(e))
                return

    def one(self, title, i):
        _, ep, _ = retried("POST", "/episodes", {"title": title}, key=str(uuid.uuid4()))
        with self.lock:
            self.created[title] = ep["id"]
        retried("PATCH", "/episodes/" + ep["id"], {"title": title + " (edited)"})
        if i % 3 == 0:
            _, f, _ = retried("POST", "/episodes/%s/files?name=take-%d.txt" % (ep["id"], i),
                              ("take %d of %s\n" % (i, title)).encode(), key=str(uuid.uuid4()),
                              ctype="text/plain")
            with self.lock:
                self.files.append(f["id"])
        if i % 2 == 0:
            _, job, _ = retried("POST", "/jobs", {"type": "noop", "episode_id": ep["id"],
                                                  "payload": {"sleep_ms": 1500}},
                                key=str(uuid.uuid4()))
            with self.lock:
                self.jobs.append(job["id"])

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        assert not self.errors, self.errors
        assert self.created, "no episode was created"


def wait_until_delivered(patience=30):
    """Every event of the outbox delivered (in process or by a worker's
    sweep) and no delivery left to retry."""
    wait_for(lambda: sql("SELECT (SELECT count(*) FROM events WHERE delivered_at IS NULL)"
                         " + (SELECT count(*) FROM event_deliveries WHERE status <> 'delivered')")
             == [["0"]], "every event delivered", patience)


def jsonl_event_ids():
    """Event ids the sink-jsonl of each application host wrote, all hosts
    together, with how often each came (a killed host may have written a
    torn last line: skipped)."""
    seen = {}
    for app in ("app1", "app2"):
        path = os.path.join(TOP, app, "events.jsonl")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                seen[ev["id"]] = seen.get(ev["id"], 0) + 1
    return seen


# ---------------------------------------------------------------- WebSocket clients

class Watcher:
    """A dashboard-like client of the `episodes` room through the
    balancer: keeps each episode's (version, title) from events; when its
    connection drops it reconnects with backoff and reads back what it may
    have missed over the API, as API.md asks of clients."""

    def __init__(self, tag):
        self.tag = tag
        self.state = {}
        self.drops = 0
        self.connected = asyncio.Event()

    def merge(self, ep_id, version, title):
        if title.startswith(self.tag) and version > self.state.get(ep_id, (0, ""))[0]:
            self.state[ep_id] = (version, title)

    def on_event(self, ev):
        d = ev.get("data", {})
        if ev["type"] == "episode_created":
            self.merge(ev["resource"]["id"], d.get("version", 1), d["title"])
        elif ev["type"] == "episode_updated":
            self.merge(ev["resource"]["id"], d["version"], d["title"])

    async def reload(self):
        cursor = None
        while True:
            path = "/episodes?limit=100&created_by=scale-editor"
            if cursor:
                path += "&cursor=" + urllib.request.quote(cursor)
            status, _, page = await asyncio.to_thread(request, "GET", API + path, VIEWER)
            if status != 200:
                raise ConnectionError("reload: %s" % status)
            for ep in page["items"]:
                self.merge(ep["id"], ep["version"], ep["title"])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def run(self, stop):
        delay = 0.2
        first = True
        while not stop.is_set():
            try:
                async with websockets.connect(WS_URL + "?token=" + VIEWER,
                                              open_timeout=5, max_size=1 << 22) as ws:
                    await ws.send(json.dumps({"type": "subscribe", "room": "episodes"}))
                    if not first:
                        await self.reload()
                    first = False
                    delay = 0.2
                    self.connected.set()
                    while not stop.is_set():
                        try:
                            f = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                        except asyncio.TimeoutError:
                            continue
                        if f.get("type") == "event":
                            self.on_event(f["event"])
            except (OSError, websockets.exceptions.WebSocketException, ConnectionError,
                    asyncio.TimeoutError):
                pass
            if stop.is_set():
                return
            if not first:
                self.drops += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def db_state(tag):
    return {r[0]: (int(r[1]), r[2]) for r in
            sql("SELECT id, version, title FROM episodes WHERE title LIKE :'p1' || '%'", tag)}


# ---------------------------------------------------------------- scenarios

def health(addr):
    status, headers, body = request("GET", "http://%s/health" % addr, tok=None, timeout=5)
    return status, headers, body


def healthy(addr):
    status, _, body = health(addr)
    return status == 200 and body["status"] == "ok"


def test_cluster_answers_through_the_balancer():
    # Each host's presence breaker may have seen the other's memcached not
    # started yet: ok within its retry_s.
    for addr in APPS:
        wait_for(lambda: healthy(addr), "%s healthy" % addr, 10)
    status, _, ep, = request("POST", API + "/episodes", body={"title": "through the front"})
    assert status == 201, (status, ep)
    # Both hosts serve it: the database is shared.
    for addr in APPS:
        status, _, got = request("GET", "http://%s/api/v1/episodes/%s" % (addr, ep["id"]))
        assert status == 200 and got["id"] == ep["id"], (addr, status, got)


async def host_dies_under_load():
    tag = "scale-%s" % uuid.uuid4().hex[:8]
    stop = asyncio.Event()
    watchers = [Watcher(tag) for _ in range(6)]
    tasks = [asyncio.create_task(w.run(stop)) for w in watchers]
    await asyncio.wait_for(asyncio.gather(*(w.connected.wait() for w in watchers)), 15)
    load = Load(tag)
    load.start()
    try:
        await asyncio.to_thread(wait_for, lambda: len(load.created) >= 20, "load under way", 30)
        # Jobs the worker of app1 holds at the moment it dies.
        await asyncio.to_thread(wait_for, lambda: held_by("app1"), "a job running on app1", 20)
        await asyncio.to_thread(ctl, "host_down", "app1")
        # What app1 had sent before it died is done once no statement of
        # its connections is still running; the jobs it holds then are
        # the ones its lease must give back.
        await asyncio.to_thread(wait_for, lambda: sql(
            "SELECT count(*) FROM pg_stat_activity WHERE client_addr = :'p1'"
            " AND state = 'active'", APPS[0]) == [["0"]], "app1's statements over", 10)
        held = held_by("app1")
        killed_at = len(load.created)
        await asyncio.to_thread(wait_for, lambda: len(load.created) >= killed_at + 30,
                                "creates going on through app2", 30)
        await asyncio.to_thread(ctl, "app_start", "app1")
        back_at = len(load.created)
        await asyncio.to_thread(wait_for, lambda: len(load.created) >= back_at + 20,
                                "creates going on with app1 back", 30)
    finally:
        load.stop.set()
        await asyncio.to_thread(load.finish)
    await asyncio.to_thread(check_load, load, tag, held)
    expect = db_state(tag)
    try:
        await asyncio.to_thread(wait_for, lambda: all(w.state == expect for w in watchers),
                                "every WebSocket client at the database's state", 20)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    dropped = [w for w in watchers if w.drops]
    assert dropped, "no WebSocket client was on the killed host"
    assert len(dropped) < len(watchers), "every WebSocket client dropped"
    took = sorted(TOOK)
    print("  %d creates, %d jobs, %d files; requests retried: %s; writes until 2xx:"
          " p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d of %d WebSocket clients reconnected"
          % (len(load.created), len(load.jobs), len(load.files), RETRIED,
             1000 * took[len(took) // 2], 1000 * took[len(took) * 99 // 100], 1000 * took[-1],
             len(dropped), len(watchers)))


def held_by(app):
    """Ids of the jobs running under the lease of app's worker (it names
    itself host:pid, and each application host has its own host name)."""
    return [r[0] for r in sql("SELECT id FROM jobs WHERE status = 'running'"
                              " AND locked_by LIKE :'p1' || ':%'", app)]


def check_load(load, tag, held):
    # Every create answered 2xx exists, once.
    rows = sql("SELECT title, count(*), min(id::text) FROM episodes"
               " WHERE title LIKE :'p1' || '%' GROUP BY title", tag)
    counts = {r[0].replace(" (edited)", ""): (int(r[1]), r[2]) for r in rows}
    for title, ep_id in load.created.items():
        assert counts.get(title) == (1, ep_id), (title, ep_id, counts.get(title))
    dupes = [r for r in sql("SELECT title FROM episodes WHERE title LIKE :'p1' || '%'"
                            " GROUP BY title HAVING count(*) > 1", tag)]
    assert not dupes, dupes
    # One episode_created event each, delivered to every sink once
    # (activity-pg keeps one row per event id; sink-jsonl's lines, deduped by
    # id, have every one).
    wait_until_delivered()
    events = sql("SELECT e.id, count(a.id) FROM events e JOIN episodes p"
                 " ON p.id = e.episode_id"
                 " LEFT JOIN activity_logs a ON a.event_id = e.id"
                 " WHERE e.type = 'episode_created' AND p.title LIKE :'p1' || '%'"
                 " GROUP BY e.id", tag)
    assert len(events) == len(counts), (len(events), len(counts))
    assert all(r[1] == "1" for r in events), [r for r in events if r[1] != "1"]
    seen = jsonl_event_ids()
    missing = [r[0] for r in events if r[0] not in seen]
    assert not missing, "sink-jsonl never got %s" % missing[:10]
    # Jobs: all done, including those the dead worker held (run again
    # after their lease by the other worker).
    wait_for(lambda: sql("SELECT count(*) FROM jobs WHERE id = ANY(string_to_array(:'p1', ',')::uuid[])"
                         " AND status <> 'succeeded'", ",".join(load.jobs)) == [["0"]],
             "every job succeeded", 60)
    assert held, "app1 held no job when it died"
    again = sql("SELECT id, attempts, locked_by FROM jobs"
                " WHERE id = ANY(string_to_array(:'p1', ',')::uuid[])", ",".join(held))
    assert len(again) == len(held) and all(int(r[1]) >= 2 for r in again), again


def test_host_dies_under_load():
    asyncio.run(host_dies_under_load())


def hub_listening(app):
    """app's eccr-wsd answers its /health 200: it LISTENs on PostgreSQL."""
    r = subprocess.run([CTL, "in_ns", app, "curl", "-fsS", "-o", "/dev/null", "-m", "2",
                        "http://127.0.0.1:3002/health"], capture_output=True)
    return r.returncode == 0


def unavailable(addr):
    """A read on addr is 503 unavailable with a Retry-After."""
    status, headers, body = request("GET", "http://%s/api/v1/episodes?limit=1" % addr)
    return (status == 503 and body and body.get("code") == "unavailable"
            and headers.get("Retry-After", "").isdigit())


async def first_event(ws, type_, ep_id, patience):
    end = time.monotonic() + patience
    while time.monotonic() < end:
        f = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic())))
        if f.get("type") == "event" and f["event"]["type"] == type_ \
                and f["event"]["resource"]["id"] == ep_id:
            return f
    raise AssertionError("no %s for %s" % (type_, ep_id))


async def events_flow_through_both_hubs():
    """Two clients through the balancer (one per hub: nginx alternates)
    each see a create made after the restart."""
    clients = [await websockets.connect(WS_URL + "?token=" + VIEWER, open_timeout=5)
               for _ in APPS]
    try:
        for ws in clients:
            await ws.send(json.dumps({"type": "subscribe", "room": "episodes"}))
        _, ep, _ = retried("POST", "/episodes", {"title": "after the restart"},
                           key=str(uuid.uuid4()))
        for ws in clients:
            await first_event(ws, "episode_created", ep["id"], 10)
    finally:
        for ws in clients:
            await ws.close()


def test_database_restart():
    ctl("db_stop")
    try:
        for addr in APPS:
            wait_for(lambda: unavailable(addr), "%s answering 503 with Retry-After" % addr, 15)
            status, _, body = health(addr)
            assert status == 503 and body["database"] != "ok", (addr, status, body)
        wait_for(lambda: unavailable(ROOT.split("//")[1]), "the front answering 503", 15)
    finally:
        ctl("db_start")
    # Every host recovers by itself: no process was restarted.
    for addr in APPS:
        wait_for(lambda: healthy(addr), "%s healthy again" % addr, 20)
    for app in ("app1", "app2"):
        wait_for(lambda: hub_listening(app), "%s's hub listening again" % app, 20)
    asyncio.run(events_flow_through_both_hubs())
    _, job, _ = retried("POST", "/jobs", {"type": "noop"}, key=str(uuid.uuid4()))
    wait_for(lambda: request("GET", API + "/jobs/" + job["id"])[2]["status"] == "succeeded",
             "a job run after the restart", 20)


def present_everywhere(ep_ids):
    """A heartbeat on each episode through the balancer is 204 and the
    caller is then among its viewers."""
    for ep_id in ep_ids:
        status, _, _ = request("POST", API + "/presence/episode/%s/heartbeat" % ep_id)
        if status != 204:
            return False
        status, _, body = request("GET", API + "/presence/episode/" + ep_id)
        if status != 200 or "scale-editor" not in [v["user_id"] for v in body["viewers"]]:
            return False
    return True


def presence_degraded(addr):
    status, _, body = health(addr)
    return status == 503 and body["plugins"].get("presence-memcache") == "unavailable" \
        and body["database"] == "ok"


def test_one_memcached_of_the_pool_dies():
    # Enough episodes that both servers of the pool hold some of their keys.
    eps = [retried("POST", "/episodes", {"title": "presence %d" % i},
                   key=str(uuid.uuid4()))[1]["id"] for i in range(12)]
    assert present_everywhere(eps)
    ctl("memcached_kill", "app2")
    try:
        # Within the breaker's time (retry_s = 1), presence works on the
        # other server for every episode, through either host.
        wait_for(lambda: present_everywhere(eps), "presence on the live server", 10)
        for addr in APPS:
            wait_for(lambda: presence_degraded(addr), "%s saying presence is degraded" % addr, 10)
        for _ in range(3):
            assert present_everywhere(eps), "presence failed again with one server down"
    finally:
        ctl("memcached_start", "app2")
    for addr in APPS:
        wait_for(lambda: healthy(addr), "%s healthy again" % addr, 15)
    wait_for(lambda: present_everywhere(eps), "presence with both servers back", 10)


if __name__ == "__main__":
    sys.exit(eccr_test.run("scale", [test_cluster_answers_through_the_balancer,
                                     test_host_dies_under_load,
                                     test_one_memcached_of_the_pool_dies,
                                     test_database_restart]))

#!/usr/bin/python3
"""Webhooks suite: two instances of webhook-http ("crm": episode_*, with an
extra header from headers_file; "chat": file_uploaded, job_completed)
deliver to a real HTTP receiver (webhook_receiver.py) that verifies every
Standard Webhooks signature with its own implementation, checked against
the specification's example.  Changes are made through the real API.

Run by tests/integration/run.sh.  Each test prints "ok NAME" or
"FAIL NAME: why"; the exit status is 1 if any failed.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import eccr_test
from eccr_test import CONFIG, ECCRCTL, http, token

ROOT = os.environ["ECCR_TEST_ROOT"]
DIR = os.environ["ECCR_TEST_WEBHOOK_DIR"]
STOP = os.environ["ECCR_TEST_WEBHOOK_STOP"]
START = os.environ["ECCR_TEST_WEBHOOK_START"]

TIMEOUT_S = 2.0     # timeout_ms of the instances (run.sh)
PATIENCE_S = 20


EDITOR = token("wh-editor", "editor", "Webhook Editor")
ADMIN = token("wh-admin", "admin", "Webhook Admin")


def create_episode(title):
    status, ep = http("POST", "/episodes", EDITOR, {"title": title})
    assert status == 201, (status, ep)
    return ep["id"]


def records(name):
    try:
        with open(os.path.join(DIR, name + ".jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def of_episode(name, ep, type_=None):
    return [r for r in records(name)
            if r["episode_id"] == ep and (type_ is None or r["type"] == type_)]


def behave(name, **b):
    path = os.path.join(DIR, name + ".behaviour")
    with open(path + ".tmp", "w") as f:
        json.dump(b, f)
    os.replace(path + ".tmp", path)


def clear(name):
    try:
        os.remove(os.path.join(DIR, name + ".behaviour"))
    except FileNotFoundError:
        pass


def wait_for(pred, what, timeout=PATIENCE_S):
    return eccr_test.wait_for(pred, what, timeout)


def health():
    try:
        with urllib.request.urlopen(ROOT + "/health", timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def eccrctl(*args):
    r = subprocess.run([ECCRCTL, "-c", CONFIG] + list(args), capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


# ------------------------------------------------------------------ tests

def test_each_instance_gets_exactly_its_events():
    ep = create_episode("webhooks: two endpoints")
    assert http("PATCH", "/episodes/" + ep, EDITOR, {"title": "webhooks: renamed"})[0] == 200
    st, f = http("POST", "/episodes/%s/files?name=notes.txt" % ep, EDITOR, b"hello, hooks",
                 {"Content-Type": "text/plain"})
    assert st == 201, (st, f)
    wait_for(lambda: {r["type"] for r in of_episode("crm", ep)} ==
             {"episode_created", "episode_updated"}, "crm's two episode events")
    wait_for(lambda: of_episode("chat", ep, "file_uploaded"), "chat's file_uploaded")
    time.sleep(1.0)   # anything more would have come by now
    crm, chat = of_episode("crm", ep), of_episode("chat", ep)
    assert sorted(r["type"] for r in crm) == ["episode_created", "episode_updated"], crm
    assert [r["type"] for r in chat] == ["file_uploaded"], chat
    for r in crm + chat:
        assert r["verified"], r
        assert r["id"] == r["event_id"], r          # webhook-id is the event id
        assert r["status"] == 200, r
    assert all(r["x_eccr_test"] == "crm" for r in crm), crm     # headers_file
    assert all(r["x_eccr_test"] is None for r in chat), chat


def test_a_500_is_retried_with_the_same_id():
    behave("crm", status=500, times=1, only="webhooks: 500 then 200")
    ep = create_episode("webhooks: 500 then 200")
    got = wait_for(lambda: len(of_episode("crm", ep)) >= 2 and of_episode("crm", ep),
                   "the retry after a 500")
    clear("crm")
    assert [r["status"] for r in got] == [500, 200], got
    assert got[0]["id"] == got[1]["id"] != "", got
    assert all(r["verified"] for r in got), got


def test_retry_after_is_the_least_delay():
    behave("crm", status=429, times=1, retry_after="2", only="webhooks: 429 Retry-After")
    ep = create_episode("webhooks: 429 Retry-After 2")
    got = wait_for(lambda: len(of_episode("crm", ep)) >= 2 and of_episode("crm", ep),
                   "the retry after a 429")
    clear("crm")
    assert [r["status"] for r in got] == [429, 200], got
    waited = got[1]["received"] - got[0]["received"]
    # The outbox's own backoff here is 0.1-0.2 s (retry_base_ms 200).
    assert waited >= 1.95, "retried after %.2f s, before Retry-After's 2 s" % waited


def test_a_400_goes_dead_and_replay_delivers_it():
    behave("crm", status=400, times=1, only="webhooks: 400 then replay")
    ep = create_episode("webhooks: 400 then replay")
    first = wait_for(lambda: of_episode("crm", ep), "the refused delivery")[0]
    clear("crm")
    ev = first["event_id"]

    def dead():
        rc, out = eccrctl("deliveries", "--status", "dead", "--sink", "crm")
        return rc == 0 and any(line.split()[:1] == [ev] for line in out.splitlines())
    wait_for(dead, "event %s listed dead for crm" % ev)
    rc, out = eccrctl("deliveries", "--status", "dead", "--sink", "chat")
    assert ev not in out.split(), out
    time.sleep(1.0)
    assert len(of_episode("crm", ep)) == 1, "a dead delivery was retried"
    rc, out = eccrctl("deliveries", "replay", ev, "--sink", "crm")
    assert rc == 0, out
    got = wait_for(lambda: len(of_episode("crm", ep)) >= 2 and of_episode("crm", ep),
                   "the replayed delivery")
    time.sleep(1.0)
    got = of_episode("crm", ep)
    assert [r["status"] for r in got] == [400, 200], got
    assert got[1]["id"] == ev, got


def activity_of(ep):
    st, body = http("GET", "/episodes/%s/activity" % ep, ADMIN)
    return st == 200 and [a for a in body["items"] if a["action"] == "CREATE"]


def test_a_silent_endpoint_does_not_hold_up_the_other_sinks():
    behave("crm", status=200, times=2, hang_s=15, only="webhooks: silent endpoint")
    try:
        ep1 = create_episode("webhooks: silent endpoint 1")
        t0 = time.monotonic()
        ep2 = create_episode("webhooks: silent endpoint 2")
        wait_for(lambda: activity_of(ep1), "the first episode's activity row")
        wait_for(lambda: activity_of(ep2), "the second episode's activity row")
        waited = time.monotonic() - t0
        # ep2 waits at most for crm's time-out on ep1 (one dispatcher).
        assert waited < TIMEOUT_S + 3.0, "the activity sink waited %.1f s" % waited
        # The endpoint did keep the first one waiting...
        assert any(r["hang_s"] for r in of_episode("crm", ep1)), of_episode("crm", ep1)
        # ...and both reach it in the end, once it answers again.
        def answered(ep):
            return any(r["status"] == 200 and not r["hang_s"] for r in of_episode("crm", ep))
        wait_for(lambda: answered(ep1) and answered(ep2),
                 "both deliveries once the endpoint answers", timeout=60)
    finally:
        clear("crm")


def test_an_endpoint_down_for_a_minute_gets_everything_after():
    subprocess.run([STOP], check=True)
    eps = []
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            eps.append(create_episode("webhooks: outage %d" % len(eps)))
            time.sleep(5)
        # eccr-fcgi's crm instance failed its last deliveries: degraded.
        st, h = health()
        assert st == 503 and h["plugins"]["crm"] == "unavailable", (st, h)
        assert h["database"] == "ok" and h["plugins"]["activity-pg"] == "ok", h
    finally:
        subprocess.run([START], check=True)
    eps.append(create_episode("webhooks: after the outage"))
    want = {ep for ep in eps}

    def all_in():
        got = {r["episode_id"] for r in records("crm")
               if r["type"] == "episode_created" and r["status"] == 200}
        return want <= got
    wait_for(all_in, "every episode_created of the outage", timeout=90)
    for ep in eps:   # each at least once; deduplicated by id, exactly one id
        ids = {r["id"] for r in of_episode("crm", ep, "episode_created")}
        assert len(ids) == 1, (ep, ids)
    # A success since: healthy again.
    wait_for(lambda: health()[0] == 200, "/health back to 200")


def test_every_request_was_signed():
    bad = [r for n in ("crm", "chat") for r in records(n) if not r["verified"]]
    assert not bad, bad[:3]
    assert records("crm") and records("chat")


TESTS = [
    test_each_instance_gets_exactly_its_events,
    test_a_500_is_retried_with_the_same_id,
    test_retry_after_is_the_least_delay,
    test_a_400_goes_dead_and_replay_delivers_it,
    test_a_silent_endpoint_does_not_hold_up_the_other_sinks,
    test_an_endpoint_down_for_a_minute_gets_everything_after,
    test_every_request_was_signed,
]


def clear_all():
    for n in ("crm", "chat"):
        clear(n)


if __name__ == "__main__":
    sys.exit(eccr_test.run("webhooks", TESTS, after=clear_all))

#!/usr/bin/python3
"""fixed-rate.py URL TOKEN RATE SECONDS CONNS TAG - POST /api/v1/episodes
at a constant rate (open loop, as wrk2 does), not as fast as possible.

Request i is due at start + i/RATE and goes out on connection i mod CONNS
as soon as that connection is free; its latency is counted from when it was
due, so a stall shows in the latency instead of lowering the rate
(coordinated omission).  The bodies are post.lua's, under the series
"TAG-<conn>", so the database can tell this run's rows from the others.
Prints one JSON line (bench.py's "fixed_rate" kind).

Why not wrk: Debian's wrk 4.1 has no constant-throughput mode, and its
Lua delay() hook has no wall clock to keep a schedule with; at a few
hundred requests a second Python's standard library is cheap enough (its
CPU is reported beside the figures)."""
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

BODY = ('{"series":"%s","season_number":%d,"episode_number":%d,'
        '"title":"Bench episode %d","description":"Written by bench/run to measure creates.",'
        '"status":"draft","air_date":"2026-05-01","duration_seconds":1800,'
        '"categories":["news","bench"],"metadata":{"source":"bench"}}')


def run_conn(k, u, token, rate, total, conns, tag, start, out):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    rnd = random.Random(k)
    lat, codes = [], {}
    for i in range(k, total, conns):
        due = start + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        body = BODY % ("%s-%d" % (tag, k), rnd.randint(1, 1000000), rnd.randint(1, 2000000000), i)
        status = 0
        for _ in range(2):  # once more if keep-alive ended under us
            try:
                conn.request("POST", u.path + "/api/v1/episodes", body, headers)
                r = conn.getresponse()
                r.read()
                status = r.status
                break
            except (http.client.HTTPException, OSError):
                conn.close()
        lat.append((time.monotonic() - due) * 1000)
        codes[status] = codes.get(status, 0) + 1
    out[k] = (lat, codes)


def pct(xs, p):
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    url, token, rate, secs, conns, tag = sys.argv[1:]
    rate, secs, conns = float(rate), float(secs), int(conns)
    u = urllib.parse.urlsplit(url)
    total = int(rate * secs)
    out = {}
    cpu0 = time.process_time()
    start = time.monotonic() + 0.2
    threads = [threading.Thread(target=run_conn, args=(k, u, token, rate, total, conns, tag, start, out))
               for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    lat = sorted(x for v in out.values() for x in v[0])
    codes = {}
    for v in out.values():
        for c, n in v[1].items():
            codes[c] = codes.get(c, 0) + n
    ok = sum(n for c, n in codes.items() if 200 <= c < 300)
    print(json.dumps({"kind": "fixed_rate", "target_rps": rate, "seconds": round(elapsed, 3),
                      "requests": len(lat), "ok": ok, "errors": len(lat) - ok,
                      "codes": {str(c): n for c, n in sorted(codes.items())},
                      "achieved_rps": round(len(lat) / elapsed, 1) if elapsed > 0 else None,
                      "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "max_ms": lat[-1] if lat else None,
                      "driver_cpu_s": round(time.process_time() - cpu0, 3), "conns": conns, "tag": tag}))


if __name__ == "__main__":
    main()

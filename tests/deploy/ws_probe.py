#!/usr/bin/python3
"""ws_probe.py URL ROOM TYPE ID - connect to URL (a /ws?token=... address,
through the web server), subscribe to ROOM, print "ready", then wait up to
15 s for an event of TYPE whose resource id is ID.  Exit 0 when it came."""
import asyncio
import json
import sys

import websockets


async def probe(url, room, type_, rid):
    async with websockets.connect(url, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "subscribe", "room": room}))
        f = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if f != {"type": "subscribed", "room": room}:
            raise SystemExit("subscribe answered %s" % f)
        print("ready", flush=True)
        while True:
            f = json.loads(await ws.recv())
            ev = f.get("event") or {}
            if f.get("type") == "event" and ev.get("type") == type_ and \
                    ev.get("resource", {}).get("id") == rid:
                print("received %s %s" % (type_, ev["id"]), flush=True)
                return


def main():
    url, room, type_, rid = sys.argv[1:5]
    try:
        asyncio.run(asyncio.wait_for(probe(url, room, type_, rid), 15))
    except Exception as e:   # report, do not trace: the smoke test prints it
        print("ws probe failed: %r" % (e,), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

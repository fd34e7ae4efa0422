"""What the Python integration suites share: tokens from eccrctl, requests
to the API, a bounded poll, and the runner that prints "ok NAME" or
"FAIL NAME: why" per test.  The stack's addresses come from the
environment tests/integration/run.sh exports."""
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

API = os.environ["ECCR_TEST_URL"]
CONFIG = os.environ["ECCR_TEST_CONFIG"]
ECCRCTL = os.environ["ECCR_TEST_ECCRCTL"]


def token(sub, role="editor", name=None):
    args = [ECCRCTL, "-c", CONFIG, "token", "--sub", sub, "--role", role]
    if name:
        args += ["--name", name]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def request(method, url, tok=None, body=None, headers=None, timeout=30, lenient=False):
    """method url: (status, response headers, parsed JSON body or None).
    A dict or list body is sent as JSON; bytes as they are (say their
    Content-Type in headers).  A body that is not JSON raises ValueError,
    or is None when lenient (a balancer's own error pages are HTML).  No
    answer at all raises OSError."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    if data is not None and not isinstance(body, bytes):
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)

    def parse(raw):
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            if lenient:
                return None
            raise

    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, parse(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, parse(e.read())


def http(method, path, tok=None, body=None, headers=None):
    """method API+path: (status, parsed JSON body or None); see request."""
    status, _, parsed = request(method, API + path, tok, body, headers)
    return status, parsed


def wait_for(pred, what, timeout):
    """pred()'s first true value, asked every 100 ms for at most timeout
    seconds; AssertionError naming what when it never comes."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def run(suite, tests, call=lambda t: t(), after=None):
    """Runs the tests named on the command line (all without names), each
    through call, reporting every failure and running the rest; after()
    follows each test.  Returns the exit status."""
    only = sys.argv[1:]
    failed = passed = 0
    for t in tests:
        if only and t.__name__ not in only:
            continue
        t0 = time.monotonic()
        try:
            call(t)
            passed += 1
            print("ok   %s (%.1f s)" % (t.__name__, time.monotonic() - t0))
        except Exception as e:   # report every failure, run the rest
            failed += 1
            print("FAIL %s: %r" % (t.__name__, e))
            traceback.print_exc()
        finally:
            if after:
                after()
    print("%s: %d passed, %d failed" % (suite, passed, failed))
    return 1 if failed else 0

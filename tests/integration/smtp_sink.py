#!/usr/bin/python3
"""A real SMTP server on loopback for the integration tests (aiosmtpd).

Every message it accepts is written whole to DIR as one file, after two
lines naming its envelope (X-Envelope-From, X-Envelope-To).  It asks for
AUTH (PLAIN or LOGIN, without TLS: loopback only) with the user and the
password in PASSWORD_FILE; with --cert and --key it insists on STARTTLS
before AUTH and MAIL.  A recipient whose local part starts with
"reject" is refused with 550, one starting with "tempfail" with 451, so
the tests can see the sink's FAIL and RETRY.

usage: smtp_sink.py --port P --dir DIR --user U --password-file F --pid-file F
                    [--cert PEM --key PEM]
"""
import argparse
import os
import signal
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, directory):
        self.directory = directory

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("reject"):
            return "550 5.1.1 no such mailbox here"
        if local.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = "%d-%d.eml" % (time.time_ns(), os.getpid())
        tmp = os.path.join(self.directory, "." + name)
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.directory, name))  # whole or not at all
        return "250 2.0.0 accepted"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    with open(a.password_file, "rb") as f:
        password = f.read().rstrip(b"\n")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              auth_data.login == a.user.encode() and auth_data.password == password)
        return AuthResult(success=ok)

    tls = {"auth_require_tls": False}
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        tls = {"tls_context": ctx, "require_starttls": True, "auth_require_tls": True}
    controller = Controller(Handler(a.dir), hostname="127.0.0.1", port=a.port,
                            authenticator=authenticator, auth_required=True, **tls)
    controller.start()
    with open(a.pid_file, "w") as f:
        f.write("%d\n" % os.getpid())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    os.unlink(a.pid_file)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""register -- create accounts on the test server by in-band registration.

    register.py --port PORT --ca CA [--host HOST] [--domain DOMAIN]
                [--direct-tls] USER PASSWORD [USER PASSWORD ...]

For the ejabberd test server (tests/integration/lib.sh), which allows
XEP-0077 registration from loopback only: each account is one connection
(STARTTLS, or TLS from the first byte with --direct-tls, verified against
CA), one <iq type='set'/> of jabber:iq:register, and a closed stream; all
accounts at once, one thread each. A registration that is not answered
with a result (a conflict: the account exists) is an error.

Why not ejabberdctl register: each call starts an Erlang VM (about half a
second of CPU); this takes a few milliseconds per account.

Exit status: 0 every account was made, 1 one was not (the reason on
stderr), 2 usage.
"""

import argparse
import socket
import ssl
import sys
import threading
from xml.sax.saxutils import escape, quoteattr

TIMEOUT = 20


class Stream:
    """A client stream read up to markers; enough for this exchange."""

    def __init__(self, opts):
        self.opts = opts
        self.sock = socket.create_connection((opts.host, opts.port), TIMEOUT)
        self.buf = b""
        if opts.direct_tls:
            self._tls()

    def _tls(self):
        ctx = ssl.create_default_context(cafile=self.opts.ca)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.opts.domain)
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode())

    def until(self, *markers):
        """Read until one of MARKERS arrived; return what came so far."""
        while not any(m in self.buf for m in markers):
            data = self.sock.recv(65536)
            if not data:
                raise OSError("the server closed the connection: %r" % self.buf[-300:])
            self.buf += data
        got, self.buf = self.buf, b""
        return got

    def open(self):
        self.send("<?xml version='1.0'?><stream:stream to=%s version='1.0' "
                  "xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams'>"
                  % quoteattr(self.opts.domain))
        return self.until(b"</stream:features>")

    def close(self):
        try:
            self.send("</stream:stream>")
            self.sock.close()
        except OSError:
            pass


def register(opts, user, password):
    s = Stream(opts)
    try:
        features = s.open()
        if not opts.direct_tls:
            if b"urn:ietf:params:xml:ns:xmpp-tls" not in features:
                raise OSError("no STARTTLS offered")
            s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            if b"<proceed" not in s.until(b"<proceed", b"<failure"):
                raise OSError("STARTTLS refused")
            s._tls()
            s.open()
        s.send("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>"
               "<username>%s</username><password>%s</password></query></iq>"
               % (escape(user), escape(password)))
        answer = s.until(b"</iq>", b"/>")
        # A result is short: <iq type='result' id='reg1'/> (either quotes).
        while b"reg1" not in answer:
            answer += s.until(b"</iq>", b"/>")
        if b"type='result'" not in answer and b'type="result"' not in answer:
            raise OSError("registration refused: %s" % answer.decode(errors="replace"))
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--domain", default="localhost")
    p.add_argument("--direct-tls", action="store_true")
    p.add_argument("accounts", nargs="+", metavar="USER PASSWORD")
    opts = p.parse_args()
    if len(opts.accounts) % 2:
        p.error("USER and PASSWORD come in pairs")
    pairs = list(zip(opts.accounts[0::2], opts.accounts[1::2]))
    errors = []

    def one(user, password):
        try:
            register(opts, user, password)
        except (OSError, ssl.SSLError) as e:
            errors.append("register.py: %s: %s" % (user, e))

    threads = [threading.Thread(target=one, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

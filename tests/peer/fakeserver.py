#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""fakeserver -- a scripted, misbehaving XMPP server for the xmpptools fault tests.

It listens on 127.0.0.1 (a free port unless --port is given), writes the port
number to --port-file once it is listening, and then serves every connection
in the chosen --mode until it is killed.

A full session goes: stream header, <starttls/> (required) with the
certificate of --cert/--key, SASL PLAIN only (the password of --password, for
any user), resource binding and the session iq. Once the client is online
the server answers iq get ping (XEP-0199) with a result and any other iq get
or set with service-unavailable, accepts <message/> and <presence/>, pushes
one message after each initial presence when --push is given (a message
error with --push-error CONDITION), and answers
the client's </stream:stream> with its own. The modes make it misbehave at
one point. "After login" means: when the first stanza after the session iq
arrives (xsend's first message, xlisten's initial presence).

Before login:
  silent                  accept, read and discard, never send a byte
  close                   accept and close at once
  garbage                 after the first bytes from the client, answer with
                          bytes that are not XML, then wait for the client to
                          go away
  no-starttls             answer the stream header with a stream header and
                          <stream:features> offering only SASL PLAIN (no
                          <starttls/>), then read and discard
  stall-tls               offer <starttls/>, answer <starttls/> with
                          <proceed/>, then never send another byte, so the
                          TLS handshake stalls
  stream-error:CONDITION  answer the stream header with a stream header and
                          <stream:error><CONDITION/></stream:error>, close
  starttls-failure        answer <starttls/> with <failure/> and close
  sasl-failure            answer <auth/> with <failure><not-authorized/>
  dtd                     a DOCTYPE with an internal entity before the first
                          stream header (in plain text, before TLS)
  billion-laughs          a DOCTYPE with nested entities before the stream
                          header that follows SASL success
  drop-once               the first connection is closed right after the
                          session iq is answered (the first login), before
                          any stanza of the client is read; the next ones
                          behave (with --push: a reconnected xlisten gets
                          its message)
  drop-once-mid           the same, but the first connection ends in the
                          middle of a message the server was pushing

After login:
  ok                      behave (use it with a --cert the client does not
                          trust, with --push, with xsend --raw ...)
  login-stream-error:CONDITION
                          <stream:error><CONDITION/></stream:error> and close;
                          see-other-host carries --text (default
                          127.0.0.9:5999)
  pi                      a processing instruction between stanzas
  huge                    a message with a --size bytes body (default 10 MiB)
  deep                    a message with --size nested elements (default
                          10,000)
  bad-utf8                a message whose body is not UTF-8
  amp-bomb                a message whose body is --size `&amp;` references
                          (default 2,000,000)
  drip                    a message, one byte per second, never finished
  drop                    half a message, then the connection is closed
  no-barrier              never answer an iq ping
  no-close                never answer the client's </stream:stream> nor
                          close the connection
  bounce                  answer every message with a message error
                          service-unavailable whose <text/> is --text

With --log FILE every byte received from clients is appended to FILE
(decrypted once TLS is up), so a test can check, for example, that a client
never sent its password to a server that did not offer TLS, or count the
messages it sent. With --events FILE the server appends one line per event:
"connect N" for each accepted connection, "online N" for each login.

Only the standard library is used, so any Python 3.11 works. To add a mode,
add a name to MODES and act on it in the Session class.
"""

import argparse
import asyncio
import base64
import os
import re
import ssl
import sys
import xml.parsers.expat
from xml.sax.saxutils import escape, quoteattr

NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_PING = "urn:xmpp:ping"

# Not XML in any way: text before any element (what a web server would say),
# then NUL and other control bytes, invalid UTF-8 and broken markup.
GARBAGE = b"HTTP/1.1 400 Bad Request\r\n\r\n\x00\x01\xff\xfe<<<&&&>>>\x7f\x80\n"

# The entities of the billion laughs: lol9 expands to 10^9 "lol".
LAUGHS = "".join(
    ['<!ENTITY lol0 "lol">']
    + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)])

# mode name -> whether it takes a ":ARG"
MODES = {
    "silent": False, "close": False, "garbage": False, "no-starttls": False,
    "stall-tls": False, "stream-error": True, "starttls-failure": False,
    "sasl-failure": False, "dtd": False, "billion-laughs": False,
    "drop-once": False, "drop-once-mid": False, "ok": False, "login-stream-error": True, "pi": False,
    "huge": False, "deep": False, "bad-utf8": False, "amp-bomb": False,
    "drip": False, "drop": False, "no-barrier": False, "no-close": False,
    "bounce": False,
}

DEFAULT_SIZE = {"huge": 10 * 1024 * 1024, "deep": 10000, "amp-bomb": 2000000}


def text(s):
    """s as XML character data; CR, LF and tab as references, so they survive
    the end-of-line and attribute normalisation of the client's parser."""
    return escape(s).replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#9;")


def attr(s):
    return quoteattr(s, {"\r": "&#13;", "\n": "&#10;", "\t": "&#9;"})


class Elem:
    """A parsed element: name as written (prefix included), attributes,
    children and the concatenated character data."""

    def __init__(self, name, attrs):
        self.name = name
        self.attrs = attrs
        self.children = []
        self.text = ""

    def get(self, key, default=None):
        return self.attrs.get(key, default)

    def child(self, name):
        for c in self.children:
            if c.name == name:
                return c
        return None


class StreamParser:
    """The client's side of one XML stream (a new one after each restart):
    feeds expat, collects each top-level element once it is complete."""

    def __init__(self):
        p = xml.parsers.expat.ParserCreate()
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._chars
        self.parser = p
        self.stack = []
        self.header = None  # attributes of <stream:stream>
        self.closed = False  # </stream:stream> seen
        self.broken = False  # not XML: stop parsing, keep reading
        self.ready = []

    def _start(self, name, attrs):
        e = Elem(name, attrs)
        if self.header is None and not self.stack:
            self.header = attrs
            self.stack.append(e)
            return
        self.stack[-1].children.append(e)
        self.stack.append(e)

    def _end(self, _name):
        e = self.stack.pop()
        if not self.stack:
            self.closed = True
        elif len(self.stack) == 1:
            self.stack[0].children.clear()
            self.ready.append(e)

    def _chars(self, data):
        if len(self.stack) > 1:
            self.stack[-1].text += data

    def feed(self, data):
        if self.broken or self.closed:
            return
        try:
            self.parser.Parse(data, False)
        except xml.parsers.expat.ExpatError:
            self.broken = True


class Conn:
    """One accepted client connection: the stream, the log, the writer."""

    def __init__(self, reader, writer, log):
        self.reader = reader
        self.writer = writer
        self.log = log
        self.stream = StreamParser()

    async def read_some(self):
        """Read what is available and parse it; False at end of file."""
        data = await self.reader.read(65536)
        if self.log is not None and data:
            self.log.write(data)
            self.log.flush()
        self.stream.feed(data)
        return bool(data)

    async def discard_until_eof(self):
        while await self.read_some():
            pass

    async def wait_header(self):
        """The client's stream header; None when it went away first."""
        while self.stream.header is None:
            if self.stream.broken or not await self.read_some():
                return None
        return self.stream.header

    async def next_elem(self):
        """The next complete top-level element; None at the client's
        </stream:stream>, at end of file or after XML that is not."""
        while not self.stream.ready:
            if self.stream.closed or self.stream.broken:
                return None
            if not await self.read_some():
                return None
        return self.stream.ready.pop(0)

    def restart(self):
        self.stream = StreamParser()

    async def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.writer.write(data)
        await self.writer.drain()

    async def open_stream(self, prolog="<?xml version='1.0'?>"):
        """Wait for the client's stream header, answer with PROLOG and ours.

        Returns False when the client went away first.
        """
        header = await self.wait_header()
        if header is None:
            return False
        domain = header.get("to", "localhost")
        await self.send(
            f"{prolog}<stream:stream xmlns='jabber:client'"
            " xmlns:stream='http://etherx.jabber.org/streams'"
            f" id='fake-stream' from={attr(domain)} version='1.0' xml:lang='en'>")
        return True


class Server:
    """What all connections share: options, counters, the files."""

    def __init__(self, args):
        self.mode, self.arg = args.mode
        self.args = args
        self.log = open(args.log, "ab") if args.log else None
        self.events = open(args.events, "a") if args.events else None
        self.connections = 0
        self.logins = 0
        self.tls = None
        if args.cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.cert, args.key)

    def event(self, what, n):
        if self.events is not None:
            self.events.write(f"{what} {n}\n")
            self.events.flush()


class Session:
    """One connection served in the server's mode."""

    def __init__(self, srv, conn, n):
        self.srv = srv
        self.mode = srv.mode
        self.arg = srv.arg
        self.conn = conn
        self.n = n
        self.jid = "alice@localhost/fake"
        self.online = False
        self.triggered = False

    # -- the modes that never log in ------------------------------------

    async def run(self):
        c = self.conn
        if self.mode == "silent":
            await c.discard_until_eof()
        elif self.mode == "close":
            return
        elif self.mode == "garbage":
            if await c.read_some():
                await c.send(GARBAGE)
                await c.discard_until_eof()
        elif self.mode == "no-starttls":
            if await c.open_stream():
                await c.send(
                    "<stream:features>"
                    f"<mechanisms xmlns='{NS_SASL}'><mechanism>PLAIN</mechanism>"
                    "</mechanisms></stream:features>")
                await c.discard_until_eof()
        elif self.mode == "stream-error":
            if await c.open_stream():
                await c.send(self.stream_error(self.arg))
        elif await self.login():
            await self.serve()

    def stream_error(self, condition):
        inner = text(self.srv.args.text or "127.0.0.9:5999") \
            if condition == "see-other-host" else ""
        return (f"<stream:error><{condition} xmlns='{NS_STREAMS}'>{inner}"
                f"</{condition}></stream:error></stream:stream>")

    # -- logging in ----------------------------------------------------

    async def login(self):
        """Up to the session iq; False when the connection is over."""
        c = self.conn
        prolog = "<?xml version='1.0'?>"
        if self.mode == "dtd":
            prolog += ("<!DOCTYPE stream:stream [<!ENTITY who 'localhost'>]>")
        if not await c.open_stream(prolog):
            return False
        await c.send(f"<stream:features><starttls xmlns='{NS_TLS}'><required/>"
                     "</starttls></stream:features>")
        if self.mode == "dtd":
            await c.discard_until_eof()
            return False
        if not await self.starttls():
            return False
        c.restart()
        if not await c.open_stream():
            return False
        await c.send(f"<stream:features><mechanisms xmlns='{NS_SASL}'>"
                     "<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
        if not await self.sasl():
            return False
        c.restart()
        prolog = "<?xml version='1.0'?>"
        if self.mode == "billion-laughs":
            prolog += f"<!DOCTYPE stream:stream [{LAUGHS}]>"
        if not await c.open_stream(prolog):
            return False
        bind = "&lol9;" if self.mode == "billion-laughs" else ""
        await c.send(f"<stream:features><bind xmlns='{NS_BIND}'>{bind}</bind>"
                     f"<session xmlns='{NS_SESSION}'/>"
                     "</stream:features>")
        if self.mode == "billion-laughs":
            await c.discard_until_eof()
            return False
        return True

    async def starttls(self):
        c = self.conn
        e = await c.next_elem()
        if e is None or e.name != "starttls":
            await c.discard_until_eof()
            return False
        if self.mode == "starttls-failure":
            await c.send(f"<failure xmlns='{NS_TLS}'/></stream:stream>")
            return False
        await c.send(f"<proceed xmlns='{NS_TLS}'/>")
        if self.mode == "stall-tls" or self.srv.tls is None:
            await c.discard_until_eof()  # the ClientHello goes unanswered
            return False
        await c.writer.start_tls(self.srv.tls)
        return True

    async def sasl(self):
        c = self.conn
        e = await c.next_elem()
        if e is None:
            return False
        user = password = None
        if e.name == "auth" and e.get("mechanism") == "PLAIN":
            try:
                parts = base64.b64decode(e.text.strip()).split(b"\0")
                if len(parts) == 3:
                    user = parts[1].decode("utf-8")
                    password = parts[2].decode("utf-8")
            except ValueError:
                pass
        if self.mode == "sasl-failure" or password != self.srv.args.password:
            await c.send(f"<failure xmlns='{NS_SASL}'><not-authorized/></failure>")
            await c.discard_until_eof()
            return False
        self.jid = f"{user}@localhost/fake"
        await c.send(f"<success xmlns='{NS_SASL}'/>")
        return True

    # -- online --------------------------------------------------------

    async def serve(self):
        c = self.conn
        while True:
            e = await c.next_elem()
            if e is None:
                break
            if not self.online:
                if not await self.setup_iq(e):
                    return
                continue
            if not self.triggered:
                self.triggered = True
                if not await self.misbehave():
                    await c.discard_until_eof()
                    return
            await self.stanza(e)
        if c.stream.closed and self.mode != "no-close":
            await c.send("</stream:stream>")
            return
        await c.discard_until_eof()

    async def setup_iq(self, e):
        """Bind and session; False when the connection is to end."""
        c = self.conn
        iq_id = attr(e.get("id", ""))
        if e.name == "iq" and e.child("bind") is not None:
            res = e.child("bind").child("resource")
            self.jid = self.jid.split("/")[0] + "/" + (
                res.text if res is not None and res.text else "fake")
            await c.send(f"<iq type='result' id={iq_id}><bind xmlns='{NS_BIND}'>"
                         f"<jid>{text(self.jid)}</jid></bind></iq>")
        elif e.name == "iq" and e.child("session") is not None:
            await c.send(f"<iq type='result' id={iq_id}/>")
            self.online = True
            self.srv.logins += 1
            self.srv.event("online", self.n)
            if self.mode.startswith("drop-once") and self.srv.logins == 1:
                if self.mode == "drop-once-mid":
                    await c.send(self.message_head() + "<body>half a mess")
                return False  # the caller closes the connection
        else:
            await self.stanza(e)
        return True

    async def stanza(self, e):
        c = self.conn
        kind = e.get("type", "")
        if e.name == "iq" and kind in ("get", "set"):
            iq_id = attr(e.get("id", ""))
            back = f" from={attr(e.get('to'))}" if e.get("to") else ""
            if kind == "get" and e.child("ping") is not None:
                if self.mode != "no-barrier":
                    await c.send(f"<iq type='result' id={iq_id}{back}/>")
                return
            await c.send(
                f"<iq type='error' id={iq_id}{back}><error type='cancel'>"
                f"<service-unavailable xmlns='{NS_STANZAS}'/></error></iq>")
        elif e.name == "message" and self.mode == "bounce" and kind != "error":
            back = f" from={attr(e.get('to'))}" if e.get("to") else ""
            mid = f" id={attr(e.get('id'))}" if e.get("id") else ""
            await c.send(
                f"<message type='error'{back}{mid}><error type='cancel'>"
                f"<service-unavailable xmlns='{NS_STANZAS}'/>"
                f"<text xmlns='{NS_STANZAS}'>{text(self.srv.args.text or 'gone')}</text>"
                "</error></message>")
        elif e.name == "presence" and not kind and not e.get("to") and self.srv.args.push:
            await self.push()

    async def push(self):
        a = self.srv.args
        if a.push_error:
            # A bounce coming to the client: a message error.
            await self.conn.send(
                f"<message type='error' from={attr(a.push_from)} to={attr(self.jid)}"
                f" id='push{self.n}'><error type='cancel'>"
                f"<{a.push_error} xmlns='{NS_STANZAS}'/>"
                f"<text xmlns='{NS_STANZAS}'>{text(a.text or 'gone')}</text>"
                "</error></message>")
            return
        await self.conn.send(
            f"<message type='chat' from={attr(a.push_from)} to={attr(self.jid)}"
            f" id='push{self.n}'><body>{text(a.text or 'hello')}</body></message>")

    def message_head(self):
        return (f"<message type='chat' from='bob@localhost/fake'"
                f" to={attr(self.jid)}>")

    async def misbehave(self):
        """Act at the first stanza after login; False: stop serving."""
        c = self.conn
        size = self.srv.args.size or DEFAULT_SIZE.get(self.mode, 0)
        if self.mode == "login-stream-error":
            await c.send(self.stream_error(self.arg))
            return False
        if self.mode == "pi":
            await c.send("<?fake processing instruction?>"
                         + self.message_head() + "<body>after</body></message>")
        elif self.mode == "huge":
            await c.send(self.message_head() + "<body>")
            chunk = "a" * 65536
            for _ in range(size // len(chunk)):
                await c.send(chunk)
            await c.send("</body></message>")
            return False
        elif self.mode == "deep":
            await c.send(self.message_head() + "<body>deep</body>"
                         + "<a>" * size + "</a>" * size + "</message>")
            return False
        elif self.mode == "bad-utf8":
            await c.send(self.message_head().encode()
                         + b"<body>bad \xff\xfe\xc3( bytes</body></message>")
            return False
        elif self.mode == "amp-bomb":
            await c.send(self.message_head() + "<body>")
            chunk = "&amp;" * 10000
            for _ in range(size // 10000):
                await c.send(chunk)
            await c.send("</body></message>")
            return False
        elif self.mode == "drip":
            for b in (self.message_head() + "<body>" + "drip " * 40).encode():
                await c.send(bytes([b]))
                await asyncio.sleep(1)
            return False
        elif self.mode == "drop":
            await c.send(self.message_head() + "<body>half a mess")
            c.writer.close()
            return False
        return True


def parse_mode(text_):
    name, sep, arg = text_.partition(":")
    if name not in MODES:
        raise argparse.ArgumentTypeError(
            f"unknown mode {name!r} (known: {', '.join(sorted(MODES))})")
    wants_arg = MODES[name]
    if wants_arg and not re.fullmatch(r"[a-z][a-z-]*", arg):
        raise argparse.ArgumentTypeError(f"mode {name} needs :CONDITION (e.g. {name}:conflict)")
    if not wants_arg and sep:
        raise argparse.ArgumentTypeError(f"mode {name} takes no argument")
    return name, arg


async def serve(args):
    srv = Server(args)

    async def on_client(reader, writer):
        srv.connections += 1
        n = srv.connections
        srv.event("connect", n)
        try:
            await Session(srv, Conn(reader, writer, srv.log), n).run()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass  # the client went away or failed the handshake
        finally:
            writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        # Write then rename, so a reader never sees a half-written number.
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    else:
        print(port, flush=True)
    async with server:
        await server.serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", required=True, type=parse_mode,
                   help="behaviour, see the module docstring")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--log", help="append every byte received to this file")
    p.add_argument("--events", help="append a line per connection and login")
    p.add_argument("--cert", help="server certificate (PEM); without it, "
                   "the TLS handshake stalls as in stall-tls")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--password", default="alice-pw",
                   help="the password SASL PLAIN accepts (default alice-pw)")
    p.add_argument("--push", action="store_true",
                   help="push a message after each initial presence")
    p.add_argument("--push-from", default="bob@localhost/fake",
                   help="sender of the pushed message")
    p.add_argument("--push-error", metavar="CONDITION",
                   help="with --push: push a message error with this "
                   "condition (and --text) instead of a chat message")
    p.add_argument("--text", help="body of the pushed message, <text/> of "
                   "the bounce, host of see-other-host")
    p.add_argument("--size", type=int, help="size for huge, deep, amp-bomb")
    args = p.parse_args()
    if args.cert and not args.key:
        args.key = args.cert
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print(f"fakeserver: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

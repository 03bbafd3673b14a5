#!/usr/bin/python3
"""xpeer -- an independent XMPP client (python3-slixmpp) for the xmpptools tests.

    xpeer.py [CONNECTION OPTIONS] SUBCOMMAND [OPTIONS]

It checks what our tools send and sends what our tools receive, so the test
suite never only tests itself against itself. Run it with Debian's
/usr/bin/python3 (that is where python3-slixmpp is installed); the tests call
it through the xt_peer wrapper of tests/integration/lib.sh.

Connection options (accepted before or after the subcommand):
  --host H           address to connect to (default 127.0.0.1); no DNS, ever
  --port P           TCP port (required)
  --ca FILE          CA certificate the server certificate must chain to
  --direct-tls       TLS from the first byte (XEP-0368) instead of STARTTLS
  --login-timeout S  give up logging in after S seconds (default 20)
  --debug            slixmpp's debug log on stderr

Subcommands:
  recv   log in, print every received <message> as one JSON object per line;
         SIGTERM or SIGINT make it log out and exit 0
  send   log in, send message(s), wait until the server has them, log out

Exit status:
  0 success           4 connection failed or lost   8 a stanza bounced (error)
  1 unexpected error  5 TLS failure                 9 stream error
  2 usage             6 authentication failed
  3 timeout

Adding a subcommand: write ``add_NAME_args(parser)`` and ``async def
cmd_NAME(args) -> int`` and list them in SUBCOMMANDS. Use login() to get a
session, barrier() to know the server has processed what was sent, logout()
to leave, emit() to print a JSON record, and raise PeerExit(code, message) to
fail with a diagnostic.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys

# Quiet slixmpp's import-time warning about the pure-Python stringprep before
# importing it; real problems are still reported (level WARNING and up).
logging.getLogger("slixmpp.stringprep").setLevel(logging.ERROR)
# slixmpp imports pygments at start-up only to colour its debug log; without
# it (an ImportError, which slixmpp handles) every peer starts ~30 ms sooner.
sys.modules.setdefault("pygments", None)

import slixmpp  # noqa: E402
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402
from slixmpp.jid import InvalidJID  # noqa: E402
from slixmpp.stanza.stream_error import StreamError  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_CONNECT = 4
EXIT_TLS = 5
EXIT_AUTH = 6
EXIT_REJECTED = 8
EXIT_STREAM_ERROR = 9

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DELAY = "urn:xmpp:delay"
NS_OOB = "jabber:x:oob"
NS_RECEIPTS = "urn:xmpp:receipts"
NS_HINTS = "urn:xmpp:hints"
NS_SID = "urn:xmpp:sid:0"

PROG = "xpeer"


class PeerExit(Exception):
    """Stop the subcommand with this exit code and message (on stderr)."""

    def __init__(self, code, message=None):
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------
# Output


def emit(record):
    """Print one JSON object on one line of stdout, flushed at once."""
    # ensure_ascii=False keeps UTF-8 readable; json still escapes every
    # control character, so one record is always one line.
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def warn(message):
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _q(ns, name):
    return f"{{{ns}}}{name}"


def _child_text(xml, ns, name):
    """Text of the first child NAME in NS ('' if empty), or None if absent."""
    el = xml.find(_q(ns, name))
    if el is None:
        return None
    return el.text or ""


def stanza_error(xml):
    """(condition, text) of a stanza's <error/>, or (None, None)."""
    err = xml.find(_q(NS_CLIENT, "error"))
    if err is None:
        return None, None
    condition = text = None
    for child in err:
        if child.tag == _q(NS_STANZAS, "text"):
            text = child.text or ""
        elif child.tag.startswith("{" + NS_STANZAS + "}") and condition is None:
            condition = child.tag.split("}", 1)[1]
    return condition, text


def message_record(stanza):
    """The JSON record of a received <message/>.

    Everything is read from the raw XML element, not through slixmpp's stanza
    interfaces, so the record shows what was on the wire (an absent type
    attribute is reported as type "normal" with type_attr null).
    """
    xml = stanza.xml
    type_attr = xml.get("type")
    delay = xml.find(_q(NS_DELAY, "delay"))
    oob = xml.find(_q(NS_OOB, "x"))
    origin = xml.find(_q(NS_SID, "origin-id"))
    condition, error_text = stanza_error(xml)
    return {
        "type": type_attr if type_attr is not None else "normal",
        "type_attr": type_attr,
        "from": xml.get("from"),
        "to": xml.get("to"),
        "id": xml.get("id"),
        "body": _child_text(xml, NS_CLIENT, "body"),
        "subject": _child_text(xml, NS_CLIENT, "subject"),
        "thread": _child_text(xml, NS_CLIENT, "thread"),
        "origin_id": origin.get("id") if origin is not None else None,
        "delay": delay.get("stamp") if delay is not None else None,
        "oob_url": _child_text(oob, NS_OOB, "url") if oob is not None else None,
        "receipt_request": xml.find(_q(NS_RECEIPTS, "request")) is not None,
        "no_store": xml.find(_q(NS_HINTS, "no-store")) is not None,
        "error_condition": condition,
        "error_text": error_text,
        "xml": str(stanza),
    }


# --------------------------------------------------------------------------
# Sessions


class Peer(slixmpp.ClientXMPP):
    """A slixmpp client that connects to the given address and nowhere else.

    slixmpp resolves the JID's domain even when connect() is given an address
    (and with aiodns installed it sends real DNS queries, and may pick ::1),
    so the address lookup is replaced by the address from the command line.
    TLS is still verified against the JID's domain, with the given CA.
    """

    def __init__(self, jid, password, opts):
        super().__init__(jid, password)
        self.xt_address = (opts.host, opts.port)
        if opts.ca:
            self.ca_certs = opts.ca
        # Send exactly what a subcommand asks for: no automatic id attributes.
        self.use_message_ids = False
        self.use_presence_ids = False
        self.use_origin_id = False
        # XEP-0199: the barrier below, and answers to the server's pings.
        self.register_plugin("xep_0199")
        self.lost = None  # future: set when the connection drops after login
        self.leaving = False  # True once we started to disconnect ourselves

    async def get_dns_records(self, domain, port=None):
        host, port = self.xt_address
        return [(domain, host, port)]

    def encrypted(self):
        return self.transport is not None and \
            self.transport.get_extra_info("ssl_object") is not None

    async def _handle_stream_features(self, features):
        # slixmpp 1.8 ignores force_starttls: offered no <starttls/> it goes
        # on to SASL (and would even do SCRAM in the clear). Refuse instead.
        if not self.encrypted() and "starttls" not in features["features"]:
            self.event("xt_no_tls")
            return True  # process no further features
        return await super()._handle_stream_features(features)

    def send(self, data, use_filters=True):
        # On XML it cannot parse, slixmpp sends <not-well-formed/> and waits
        # for the server to close; report that at once.
        if isinstance(data, StreamError) and data["condition"] == "not-well-formed":
            self.event("xt_not_well_formed", data["text"])
        return super().send(data, use_filters)


async def login(opts, jid, password, *, presence=False, priority=None,
                setup=None, timeout=None):
    """Connect, verify TLS, authenticate, bind; return the Peer.

    setup(peer) is called before connecting: register stanza handlers there,
    so nothing that arrives right after login is missed. With presence=True
    the initial presence is sent (priority if given). Raises PeerExit.
    """
    try:
        xmpp = Peer(jid, password, opts)
    except InvalidJID as e:
        raise PeerExit(EXIT_USAGE, f"invalid JID {jid!r}: {e}")
    if setup is not None:
        setup(xmpp)
    loop = asyncio.get_running_loop()
    outcome = loop.create_future()
    xmpp.lost = loop.create_future()

    def finish(exc=None):
        if outcome.done():
            return
        if exc is None:
            outcome.set_result(None)
        else:
            outcome.set_exception(exc)

    def on_connection_failed(err):
        # slixmpp would retry forever with a growing delay; tests want the
        # failure now.
        xmpp.cancel_connection_attempt()
        code = EXIT_TLS if isinstance(err, ssl.SSLError) else EXIT_CONNECT
        finish(PeerExit(code, f"cannot connect to {opts.host}:{opts.port}: {err}"))

    def on_disconnected(reason):
        if not outcome.done():
            finish(PeerExit(EXIT_CONNECT, "the server closed the connection during login"
                                          + (f" ({reason})" if reason else "")))
        elif not xmpp.leaving and not xmpp.lost.done():
            xmpp.lost.set_result(reason)

    def on_stream_error(err):
        finish(PeerExit(EXIT_STREAM_ERROR, f"stream error: {err['condition']} {err['text']}".rstrip()))

    def on_failed_auth(stanza):
        finish(PeerExit(EXIT_AUTH, f"authentication failed for {jid}: {stanza['condition']}"))

    xmpp.add_event_handler("session_start", lambda _: finish())
    xmpp.add_event_handler("connection_failed", on_connection_failed)
    xmpp.add_event_handler("ssl_invalid_chain",
                           lambda e: finish(PeerExit(EXIT_TLS, f"TLS verification failed: {e}")))
    xmpp.add_event_handler("failed_auth", on_failed_auth)
    xmpp.add_event_handler("no_auth", lambda _: finish(PeerExit(
        EXIT_AUTH, "the server offers no SASL mechanism we accept")))
    xmpp.add_event_handler("xt_no_tls", lambda _: finish(PeerExit(
        EXIT_TLS, "the server does not offer STARTTLS")))
    xmpp.add_event_handler("xt_not_well_formed", lambda text: finish(PeerExit(
        EXIT_STREAM_ERROR, f"the server sent what is not XML: {text}")))
    xmpp.add_event_handler("stream_error", on_stream_error)
    xmpp.add_event_handler("disconnected", on_disconnected)

    xmpp.connect(address=xmpp.xt_address, use_ssl=opts.direct_tls, force_starttls=True)
    timeout = opts.login_timeout if timeout is None else min(timeout, opts.login_timeout)
    try:
        await asyncio.wait_for(outcome, max(timeout, 0.01))
    except asyncio.TimeoutError:
        xmpp.leaving = True
        xmpp.cancel_connection_attempt()
        xmpp.abort()
        raise PeerExit(EXIT_TIMEOUT, f"login as {jid} timed out after {timeout:.3g} s")
    except PeerExit:
        xmpp.leaving = True
        xmpp.abort()
        raise
    if presence:
        xmpp.send_presence(ppriority=priority)
    return xmpp


async def until_lost(xmpp, aw, timeout, what):
    """Await aw, but fail when the connection drops or timeout passes."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task, xmpp.lost}, timeout=timeout,
                                 return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        return task.result()
    task.cancel()
    if xmpp.lost in done:
        raise PeerExit(EXIT_CONNECT, f"connection lost while waiting for {what}")
    raise PeerExit(EXIT_TIMEOUT, f"timed out after {timeout:g} s waiting for {what}")


async def barrier(xmpp, timeout=20):
    """Return once the server has processed everything sent before.

    A server processes a stream's stanzas in order (RFC 6120 §10.1), so the
    answer to a ping to our own server comes after every earlier stanza was
    handled. An error answer is a round trip all the same.
    """
    async def ping():
        try:
            await xmpp.plugin["xep_0199"].send_ping(xmpp.boundjid.domain, timeout=timeout)
        except IqError:
            pass
        except IqTimeout:
            raise PeerExit(EXIT_TIMEOUT, "no answer to the barrier ping")
    await until_lost(xmpp, ping(), timeout + 1, "the server (ping)")


async def logout(xmpp):
    """Close the stream and wait (at most 2 s) for the server to close its."""
    xmpp.leaving = True
    await xmpp.disconnect(wait=2)


def on_messages(xmpp, callback, name="xpeer messages"):
    """Call callback(stanza) for every <message/> of any type, in order."""
    xmpp.register_handler(Callback(name, MatchXPath(_q(NS_CLIENT, "message")), callback))


def stop_signals():
    """A future that is set by SIGTERM or SIGINT (a clean stop)."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: fut.done() or fut.set_result(s))
    return fut


def touch(path):
    """Create path atomically (write a temporary file, then rename)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write("ready\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# recv


def add_recv_args(p):
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--count", type=int, help="exit 0 after N messages")
    p.add_argument("--timeout", type=float, default=30,
                   help="overall limit in seconds (default 30); with --count, "
                        "reaching it is exit 3, without, it is the normal end")
    p.add_argument("--ready", metavar="FILE",
                   help="create FILE once the server routes messages to us")
    p.add_argument("--presence", dest="presence", action="store_true", default=True,
                   help="send initial presence (default)")
    p.add_argument("--no-presence", dest="presence", action="store_false")
    p.add_argument("--priority", type=int, help="priority of the initial presence")


async def cmd_recv(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    done = loop.create_future()
    stop = stop_signals()
    received = 0

    def on_message(stanza):
        nonlocal received
        if done.done():
            return  # --count reached: print no more than asked for
        emit(message_record(stanza))
        received += 1
        if args.count is not None and received >= args.count:
            done.set_result(None)

    xmpp = await login(args, args.jid, args.password, presence=args.presence,
                       priority=args.priority,
                       setup=lambda x: on_messages(x, on_message),
                       timeout=deadline - loop.time())
    # The initial presence is processed once the barrier returns: from then
    # on messages to the bare JID come to this session, not to offline
    # storage. Only now is the peer ready.
    await barrier(xmpp)
    if args.ready:
        touch(args.ready)
    if args.count is not None and args.count <= 0 and not done.done():
        done.set_result(None)

    waiting = {done, stop, xmpp.lost}
    finished, _ = await asyncio.wait(waiting, timeout=max(deadline - loop.time(), 0),
                                     return_when=asyncio.FIRST_COMPLETED)
    if xmpp.lost in finished and not done.done():
        raise PeerExit(EXIT_CONNECT, f"connection lost after {received} message(s)")
    await logout(xmpp)
    if not finished and args.count is not None:
        raise PeerExit(EXIT_TIMEOUT, f"timeout after {args.timeout:g} s: "
                                     f"received {received} of {args.count} message(s)")
    return EXIT_OK


# --------------------------------------------------------------------------
# send


def add_send_args(p):
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--to", required=True, action="append",
                   help="recipient; repeat for several (each gets every message)")
    p.add_argument("--type", help="type attribute, sent verbatim (default: none)")
    body = p.add_mutually_exclusive_group()
    body.add_argument("--body")
    body.add_argument("--body-file", metavar="FILE", help="body from FILE (UTF-8; - is stdin)")
    p.add_argument("--subject")
    p.add_argument("--thread")
    p.add_argument("--id", help="id attribute")
    p.add_argument("--extra-xml", action="append", default=[], metavar="XML",
                   help="append this XML element to each message (repeatable), "
                        "e.g. \"<request xmlns='urn:xmpp:receipts'/>\"")
    p.add_argument("--count", type=int,
                   help="send N messages; then {n} in body, subject, thread and id "
                        "is replaced by the message number 1..N")
    p.add_argument("--presence", action="store_true", help="send initial presence first")


def read_body(args):
    if args.body_file is None:
        return args.body
    if args.body_file == "-":
        return sys.stdin.buffer.read().decode("utf-8")
    with open(args.body_file, encoding="utf-8") as f:
        return f.read()


async def cmd_send(args):
    from slixmpp.xmlstream import ET

    body = read_body(args)
    extra = []
    for text in args.extra_xml:
        try:
            extra.append(ET.fromstring(text))
        except ET.ParseError as e:
            raise PeerExit(EXIT_USAGE, f"--extra-xml {text!r}: {e}")
    bounces = []

    def on_message(stanza):
        if stanza.xml.get("type") == "error":
            bounces.append(stanza)

    xmpp = await login(args, args.jid, args.password, presence=args.presence,
                       setup=lambda x: on_messages(x, on_message))
    count = 1 if args.count is None else args.count

    def number(value, n):
        if value is None or args.count is None:
            return value
        return value.replace("{n}", str(n))

    for n in range(1, count + 1):
        for to in args.to:
            msg = xmpp.Message()
            msg["to"] = to
            # Attributes are set on the XML directly so that any value (even
            # an invalid one, for hostile-input tests) goes out verbatim.
            if args.type is not None:
                msg.xml.set("type", args.type)
            if args.id is not None:
                msg.xml.set("id", number(args.id, n))
            if body is not None:
                msg["body"] = number(body, n)
            if args.subject is not None:
                msg["subject"] = number(args.subject, n)
            if args.thread is not None:
                msg["thread"] = number(args.thread, n)
            for el in extra:
                msg.xml.append(ET.fromstring(ET.tostring(el)))  # a fresh copy each time
            msg.send()
    await barrier(xmpp)
    await logout(xmpp)
    if bounces:
        for stanza in bounces:
            record = message_record(stanza)
            emit(record)
            warn(f"message to {record['from']} bounced: {record['error_condition']}")
        return EXIT_REJECTED
    return EXIT_OK


# --------------------------------------------------------------------------
# Command line

SUBCOMMANDS = {
    # name: (add_arguments, coroutine, one-line help)
    "recv": (add_recv_args, cmd_recv, "print every received message as a JSON line"),
    "send": (add_send_args, cmd_send, "send message(s); exit once the server has them"),
}


def add_connection_args(p, suppress):
    """Connection options; on subparsers their defaults are suppressed so that
    they override the top-level values only when given."""
    def d(value):
        return argparse.SUPPRESS if suppress else value
    p.add_argument("--host", default=d("127.0.0.1"))
    p.add_argument("--port", type=int, default=d(None))
    p.add_argument("--ca", metavar="FILE", default=d(None))
    p.add_argument("--direct-tls", action="store_true", default=d(False))
    p.add_argument("--login-timeout", type=float, default=d(20.0))
    p.add_argument("--debug", action="store_true", default=d(False))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Independent XMPP peer for the xmpptools tests.",
        epilog="See the module docstring for exit codes.")
    add_connection_args(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for name, (add_args, _, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        add_connection_args(p, suppress=True)
        add_args(p)
    args = parser.parse_args(argv)
    if args.port is None:
        parser.error("--port is required")
    if args.ca and not os.path.isfile(args.ca):
        parser.error(f"--ca {args.ca}: no such file")
    return args


async def run(args):
    _, command, _ = SUBCOMMANDS[args.command]
    return await command(args)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format=f"{PROG} %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run(args))
    except PeerExit as e:
        if e.message:
            warn(f"{args.command}: {e.message}")
        return e.code
    except BrokenPipeError:
        # stdout was closed (| head -1): not an error of the peer. Point
        # stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
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
  muc    be an occupant of a XEP-0045 room (create and configure it with
         --create); print its messages and the other occupants' presences
  muc-send   join a room, send message(s), wait for their reflection, leave
  muc-check  exit 0 if a room exists (disco#info), 1 if not
  presence   set presence (show, status, priority, resource), change it
             with --then, stay until --stay, SIGTERM or SIGINT
  watch      print every received <presence/> (any type) as a JSON line
  sub    play a contact (RFC 6121 §3): send subscription presences, print
         those received (kind "subscription"), --approve/--deny requests,
         --roster prints its own roster at the end

Every subcommand prints JSON objects, one per line; the MUC ones have a
"kind" key (message, presence, joined, left, error, room). Each has --help.

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
from slixmpp.xmlstream import ET, tostring  # noqa: E402
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
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_DATA = "jabber:x:data"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"

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
    attribute is reported as type "normal" with type_attr null). It is the
    same for messages with and without a <body/> (body null then).

    Keys: type type_attr from to id body subject thread (null when absent,
    "" when empty); origin_id stanza_id stanza_id_by (XEP-0359); delay
    (XEP-0203 stamp); oob_url (XEP-0066 jabber:x:oob); receipt_request
    (XEP-0184 <request/>: true/false); receipt_received (the id of a XEP-0184
    <received/>, "" without one, null when absent); no_store (XEP-0334
    <no-store/>: true/false); error_condition error_text (type='error');
    xml (the whole stanza).
    """
    xml = stanza.xml
    type_attr = xml.get("type")
    delay = xml.find(_q(NS_DELAY, "delay"))
    oob = xml.find(_q(NS_OOB, "x"))
    origin = xml.find(_q(NS_SID, "origin-id"))
    sid = xml.find(_q(NS_SID, "stanza-id"))
    received = xml.find(_q(NS_RECEIPTS, "received"))
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
        "stanza_id": sid.get("id") if sid is not None else None,
        "stanza_id_by": sid.get("by") if sid is not None else None,
        "delay": delay.get("stamp") if delay is not None else None,
        "oob_url": _child_text(oob, NS_OOB, "url") if oob is not None else None,
        "receipt_request": xml.find(_q(NS_RECEIPTS, "request")) is not None,
        "receipt_received": received.get("id", "") if received is not None else None,
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
    p.add_argument("--receipts", action="store_true",
                   help="answer each message that has <request xmlns='urn:xmpp:receipts'/> "
                        "with <message to=SENDER id=NEW><received xmlns='urn:xmpp:receipts' "
                        "id=ITS-ID/></message> (XEP-0184; not for type error or groupchat); "
                        "the record then has receipt_sent = NEW (default: no answer, "
                        "receipt_sent null)")


def receipt_reply(xmpp, stanza):
    """Answer a XEP-0184 receipt request (§5); return the answer's id.

    The answer goes to the full JID the message came from, with the id of
    the message (none if it had none); type error and groupchat messages are
    never answered (XEP-0184 §5 and §6).
    """
    xml = stanza.xml
    if xml.find(_q(NS_RECEIPTS, "request")) is None:
        return None
    if xml.get("type") in ("error", "groupchat") or not xml.get("from"):
        return None
    reply = xmpp.Message()
    reply["to"] = xml.get("from")
    reply_id = "receipt-" + xmpp.new_id()
    reply.xml.set("id", reply_id)
    received = ET.Element(_q(NS_RECEIPTS, "received"))
    if xml.get("id") is not None:
        received.set("id", xml.get("id"))
    reply.xml.append(received)
    reply.send()
    return reply_id


async def cmd_recv(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    done = loop.create_future()
    stop = stop_signals()
    received = 0
    xmpp_ref = []  # the session, for the receipt answers

    def on_message(stanza):
        nonlocal received
        if done.done():
            return  # --count reached: print no more than asked for
        record = message_record(stanza)
        record["receipt_sent"] = receipt_reply(xmpp_ref[0], stanza) if args.receipts else None
        emit(record)
        received += 1
        if args.count is not None and received >= args.count:
            done.set_result(None)

    xmpp = await login(args, args.jid, args.password, presence=args.presence,
                       priority=args.priority,
                       setup=lambda x: (xmpp_ref.append(x), on_messages(x, on_message)),
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
    p.add_argument("--wait-receipts", action="store_true",
                   help="then wait for a XEP-0184 <received id=ID/> for every message "
                        "sent (matched by id: needs --id, with {n} for --count), print "
                        "each receipt message as a JSON line (recv's keys); exit 3 if "
                        "one is missing after --timeout. The <request/> itself is "
                        "not added: give it with --extra-xml")
    p.add_argument("--timeout", type=float, default=10,
                   help="with --wait-receipts: seconds to wait for them (default 10)")


def read_body(args):
    if args.body_file is None:
        return args.body
    if args.body_file == "-":
        return sys.stdin.buffer.read().decode("utf-8")
    with open(args.body_file, encoding="utf-8") as f:
        return f.read()


async def cmd_send(args):
    body = read_body(args)
    extra = []
    for text in args.extra_xml:
        try:
            extra.append(ET.fromstring(text))
        except ET.ParseError as e:
            raise PeerExit(EXIT_USAGE, f"--extra-xml {text!r}: {e}")
    if args.wait_receipts and args.id is None:
        raise PeerExit(EXIT_USAGE, "--wait-receipts needs --id (receipts are matched by id)")
    bounces = []
    awaited = []  # ids of sent messages whose receipt has not come yet
    receipts_done = asyncio.get_running_loop().create_future()

    def on_message(stanza):
        if stanza.xml.get("type") == "error":
            bounces.append(stanza)
            if not receipts_done.done():
                receipts_done.set_result(None)  # exit 8 without waiting further
            return
        received = stanza.xml.find(_q(NS_RECEIPTS, "received"))
        if args.wait_receipts and received is not None and received.get("id") in awaited:
            awaited.remove(received.get("id"))
            emit(message_record(stanza))
            if not awaited and not receipts_done.done():
                receipts_done.set_result(None)

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
            if args.wait_receipts:
                awaited.append(number(args.id, n))
            msg.send()
    await barrier(xmpp)
    if args.wait_receipts and not bounces:
        try:
            await until_lost(xmpp, receipts_done, args.timeout,
                             f"{len(awaited)} receipt(s) (ids {' '.join(awaited)})")
        except PeerExit:
            await logout(xmpp)
            raise
    await logout(xmpp)
    if bounces:
        for stanza in bounces:
            record = message_record(stanza)
            emit(record)
            warn(f"message to {record['from']} bounced: {record['error_condition']}")
        return EXIT_REJECTED
    return EXIT_OK


# --------------------------------------------------------------------------
# MUC (XEP-0045): muc, muc-send, muc-check


def bare_of(jid):
    """(bare JID normalised as slixmpp does, resource or None) of a JID
    string; (None, None) for an invalid or absent one."""
    if not jid:
        return None, None
    try:
        j = slixmpp.JID(jid)
    except InvalidJID:
        return None, None
    return j.bare, (j.resource or None)


def error_record(xml, stage, text=None):
    """The JSON record (kind "error") of a stanza of type error."""
    err = xml.find(_q(NS_CLIENT, "error"))
    condition, error_text = stanza_error(xml)
    return {
        "kind": "error",
        "stage": stage,
        "stanza": xml.tag.split("}", 1)[-1],
        "from": xml.get("from"),
        "id": xml.get("id"),
        "error_type": err.get("type") if err is not None else None,
        "error_by": err.get("by") if err is not None else None,
        "error_condition": condition,
        "error_text": error_text,
        "xml": text if text is not None else tostring(xml),
    }


def muc_status_codes(xml):
    """The status codes (strings, in document order) of a <x/> muc#user."""
    x = xml.find(_q(NS_MUC_USER, "x"))
    if x is None:
        return []
    return [s.get("code") for s in x.findall(_q(NS_MUC_USER, "status"))]


def presence_record(stanza, nick):
    """The JSON record (kind "presence") of an occupant's presence."""
    xml = stanza.xml
    x = xml.find(_q(NS_MUC_USER, "x"))
    item = x.find(_q(NS_MUC_USER, "item")) if x is not None else None
    return {
        "kind": "presence",
        "from": xml.get("from"),
        "nick": nick,
        "type": "unavailable" if xml.get("type") == "unavailable" else "available",
        "status_codes": muc_status_codes(xml),
        "jid": item.get("jid") if item is not None else None,
        "affiliation": item.get("affiliation") if item is not None else None,
        "role": item.get("role") if item is not None else None,
        "show": _child_text(xml, NS_CLIENT, "show"),
        "status": _child_text(xml, NS_CLIENT, "status"),
        "xml": str(stanza),
    }


def muc_message_record(stanza, nick, own):
    """message_record() with kind "message", nick (the sender's nick, null
    for the room itself) and own (a reflection of what this session sent)."""
    record = {"kind": "message"}
    record.update(message_record(stanza))
    record["nick"] = nick
    record["own"] = own
    return record


async def iq_request(xmpp, to, itype, payload, timeout, what):
    """Send <iq type=itype to=to>payload</iq>; return the answer (type
    result or error). No answer within timeout is PeerExit(EXIT_TIMEOUT)."""
    iq = xmpp.Iq()
    iq["type"] = itype
    iq["to"] = to
    iq["id"] = "xpeer-" + xmpp.new_id()
    iq.xml.append(payload)

    async def ask():
        try:
            return await iq.send(timeout=timeout)
        except IqError as e:
            return e.iq
        except IqTimeout:
            raise PeerExit(EXIT_TIMEOUT, f"no answer to {what} within {timeout:g} s")
    return await until_lost(xmpp, ask(), timeout + 1, f"the answer to {what}")


def iq_failed(answer, stage):
    """Report an <iq type='error'/> answer and return the PeerExit to raise."""
    record = error_record(answer.xml, stage, str(answer))
    emit(record)
    return PeerExit(EXIT_REJECTED, f"{stage}: {record['error_type']} {record['error_condition']}"
                                   + (f" ({record['error_text']})" if record["error_text"] else ""))


class Room:
    """One occupant session in a XEP-0045 room, on a logged-in Peer.

    on_presence(record) gets the presence of every other occupant (kind
    "presence") and any presence error after the join (kind "error", stage
    "presence"); on_message(stanza, nick, own) every message from the room
    or an occupant, own being True for a reflection of our own messages.
    """

    def __init__(self, xmpp, room, nick, on_presence=None, on_message=None):
        loop = asyncio.get_running_loop()
        self.xmpp = xmpp
        self.room = room
        self.nick = nick
        self.on_presence = on_presence
        self.on_message = on_message
        self.joined = loop.create_future()  # result: (status codes, stanza)
        self.left = loop.create_future()    # result: status codes
        xmpp.register_handler(Callback(f"xpeer muc presence {room}",
                                       MatchXPath(_q(NS_CLIENT, "presence")), self._presence))
        xmpp.register_handler(Callback(f"xpeer muc message {room}",
                                       MatchXPath(_q(NS_CLIENT, "message")), self._message))

    def _presence(self, stanza):
        xml = stanza.xml
        bare, nick = bare_of(xml.get("from"))
        if bare != self.room:
            return
        ptype = xml.get("type")
        if ptype == "error":
            record = error_record(xml, "join" if not self.joined.done() else "presence",
                                  str(stanza))
            if not self.joined.done():
                self.joined.set_exception(PeerExit(
                    EXIT_REJECTED, f"cannot join {self.room} as {self.nick!r}: "
                    f"{record['error_type']} {record['error_condition']}"
                    + (f" ({record['error_text']})" if record["error_text"] else "")))
                emit(record)
            elif self.on_presence is not None:
                self.on_presence(record)
            return
        if ptype not in (None, "unavailable"):
            return
        codes = muc_status_codes(xml)
        if "110" in codes or (nick == self.nick and self.joined.done()):
            if ptype is None and not self.joined.done():
                self.nick = nick  # the service may change it (status 210)
                self.joined.set_result((codes, stanza))
            elif ptype == "unavailable" and not self.left.done():
                self.left.set_result(codes)
            return
        if self.on_presence is not None:
            self.on_presence(presence_record(stanza, nick))

    def _message(self, stanza):
        bare, nick = bare_of(stanza.xml.get("from"))
        if bare != self.room or self.on_message is None:
            return
        own = nick is not None and nick == self.nick and self.joined.done()
        self.on_message(stanza, nick, own)

    async def join(self, password, timeout, history=0):
        """Enter the room, asking for history messages (none by default);
        return the status codes of our own presence. A join error is emitted
        and raised as PeerExit(8)."""
        pres = self.xmpp.Presence()
        pres["to"] = f"{self.room}/{self.nick}"
        x = ET.SubElement(pres.xml, _q(NS_MUC, "x"))
        ET.SubElement(x, _q(NS_MUC, "history")).set("maxstanzas", str(history))
        if password is not None:
            ET.SubElement(x, _q(NS_MUC, "password")).text = password
        pres.send()
        codes, _ = await until_lost(self.xmpp, self.joined, max(timeout, 0.01),
                                    f"joining {self.room}")
        return codes

    async def leave(self, timeout=2):
        """Send unavailable presence; wait (at most timeout) for the room's
        answer. Returns its status codes, or None if none came."""
        if not self.joined.done() or self.joined.cancelled() \
                or self.joined.exception() is not None:
            return None
        if not self.left.done():
            pres = self.xmpp.Presence()
            pres["to"] = f"{self.room}/{self.nick}"
            pres.xml.set("type", "unavailable")
            pres.send()
            try:
                await asyncio.wait_for(asyncio.shield(self.left), timeout)
            except asyncio.TimeoutError:
                return None
        return self.left.result()

    async def barrier(self, timeout):
        """Return once the room has processed what we sent it before: it
        answers a disco#info query after earlier stanzas (Prosody handles a
        session's stanzas in order, the MUC component synchronously)."""
        await iq_request(self.xmpp, self.room, "get",
                         ET.Element(_q(NS_DISCO_INFO, "query")), timeout,
                         f"disco#info to {self.room}")


def data_form_fields(form):
    """[(var, type, [values])] of a jabber:x:data form element."""
    fields = []
    for field in form.findall(_q(NS_DATA, "field")):
        values = [v.text or "" for v in field.findall(_q(NS_DATA, "value"))]
        fields.append((field.get("var"), field.get("type") or "text-single", values))
    return fields


# Fields set by the shorthand options that a service may lack: Prosody
# 0.12's form has no passwordprotectedroom (a roomsecret is enough there).
# Fields one server's form has and another's lacks: submitted when present.
OPTIONAL_FIELDS = {"muc#roomconfig_passwordprotectedroom", "members_by_default",
                   "muc#roomconfig_changesubject"}

BOOLEAN_VALUES = {"1": "1", "true": "1", "yes": "1", "on": "1",
                  "0": "0", "false": "0", "no": "0", "off": "0"}


async def configure_room(xmpp, room, options, timeout):
    """Submit the room configuration form (XEP-0045 §10.1-10.2): with no
    options, an empty form (instant room, §10.1.2); otherwise the form as the
    room sent it, with the given values (a dict var -> [values]) in place.
    A var the form lacks is a usage error, unless in OPTIONAL_FIELDS."""
    submit = ET.Element(_q(NS_MUC_OWNER, "query"))
    x = ET.SubElement(submit, _q(NS_DATA, "x"))
    x.set("type", "submit")
    if options:
        answer = await iq_request(xmpp, room, "get", ET.Element(_q(NS_MUC_OWNER, "query")),
                                  timeout, "the room configuration form request")
        if answer["type"] == "error":
            raise iq_failed(answer, "config-get")
        query = answer.xml.find(_q(NS_MUC_OWNER, "query"))
        form = query.find(_q(NS_DATA, "x")) if query is not None else None
        if form is None:
            raise PeerExit(EXIT_ERROR, f"{room} sent no configuration form")
        fields = data_form_fields(form)
        known = {var for var, _, _ in fields if var}
        unknown = [var for var in options if var not in known and var not in OPTIONAL_FIELDS]
        if unknown:
            raise PeerExit(EXIT_USAGE, f"the configuration form of {room} has no field "
                                       f"{', '.join(unknown)} (it has: {', '.join(sorted(known))})")
        for var, ftype, values in fields:
            if not var or ftype == "fixed":
                continue
            if var in options:
                values = options[var]
                if ftype == "boolean":
                    try:
                        values = [BOOLEAN_VALUES[v.lower()] for v in values]
                    except KeyError:
                        raise PeerExit(EXIT_USAGE, f"--config {var}: not a boolean: {values}")
            field = ET.SubElement(x, _q(NS_DATA, "field"))
            field.set("var", var)
            for value in values:
                ET.SubElement(field, _q(NS_DATA, "value")).text = value
    answer = await iq_request(xmpp, room, "set", submit, timeout,
                              "the room configuration")
    if answer["type"] == "error":
        raise iq_failed(answer, "config")


async def set_affiliation(xmpp, room, affiliation, jids, timeout):
    """Give each JID the affiliation (XEP-0045 §9: member, outcast, ...)."""
    query = ET.Element(_q(NS_MUC_ADMIN, "query"))
    for jid in jids:
        item = ET.SubElement(query, _q(NS_MUC_ADMIN, "item"))
        item.set("affiliation", affiliation)
        item.set("jid", jid)
    answer = await iq_request(xmpp, room, "set", query, timeout,
                              f"the {affiliation} list change")
    if answer["type"] == "error":
        raise iq_failed(answer, f"affiliation-{affiliation}")


def room_jid_arg(value):
    """argparse type of --room: a bare JID, normalised."""
    bare, resource = bare_of(value)
    if bare is None or resource is not None or "@" not in bare:
        raise argparse.ArgumentTypeError(f"not a room JID (room@service): {value!r}")
    return bare


def add_room_args(p, nick_help):
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--room", required=True, type=room_jid_arg, metavar="ROOM@SERVICE")
    p.add_argument("--nick", help=nick_help)
    p.add_argument("--room-password", metavar="PW",
                   help="send PW in the join (<password/>)")


def default_nick(args):
    return args.nick if args.nick else slixmpp.JID(args.jid).user or "xpeer"


# --------------------------------------------------------------------------
# muc


def add_muc_args(p):
    p.description = (
        "Join ROOM (<x xmlns='http://jabber.org/protocol/muc'> with <history "
        "maxstanzas='0'/>, or --history N) and stay in it: print every message from the room as a "
        "JSON line (kind \"message\": the keys of recv plus nick and own; a "
        "message counts for --count if it is type groupchat, has a <body/> and is "
        "not our own) and every presence of another occupant (kind \"presence\": "
        "from, nick, type available|unavailable, status_codes, jid, affiliation, "
        "role, show, status). Once in (own presence with status 110, then the "
        "history and subject, then configured), print kind \"joined\" (room, "
        "nick, created, status_codes) and create the --ready file. On a "
        "join error print kind \"error\" (stage, error_type, error_condition, "
        "error_text, xml) and exit 8. Leaves the room on exit (SIGTERM/SIGINT too); "
        "a room that is not persistent vanishes when its last occupant leaves.")
    add_room_args(p, "nickname (default: the JID's local part)")
    p.add_argument("--count", type=int,
                   help="exit 0 after N groupchat messages with a body from others "
                        "(--count 0: join, print what the join brings, leave)")
    p.add_argument("--history", type=int, default=0, metavar="N",
                   help="ask for N history messages (<history maxstanzas='N'/>, default 0); "
                        "they come with a delay stamp and count for --count too")
    p.add_argument("--timeout", type=float, default=30,
                   help="overall limit in seconds (default 30); with --count, "
                        "reaching it is exit 3, without, it is the normal end")
    p.add_argument("--ready", metavar="FILE",
                   help="create FILE once in the room, configured, affiliations set")
    p.add_argument("--create", action="store_true",
                   help="create the room if it does not exist (status 201) and submit "
                        "its configuration form: instant (empty form) or with the options "
                        "below; on an existing room (we must own it) the options are "
                        "applied too. Without --create a missing room is an error (exit 1; "
                        "the room the join created is left, so it vanishes)")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="with --create: set a field of the room configuration form "
                        "(repeat a KEY for several values); KEY without '#' means "
                        "muc#roomconfig_KEY; booleans take 1/0/true/false")
    p.add_argument("--members-only", action="store_true",
                   help="with --create: muc#roomconfig_membersonly=1")
    p.add_argument("--moderated", action="store_true",
                   help="with --create: muc#roomconfig_moderatedroom=1")
    p.add_argument("--persistent", action="store_true",
                   help="with --create: muc#roomconfig_persistentroom=1 (the room "
                        "outlives the peer)")
    p.add_argument("--member", action="append", default=[], metavar="JID",
                   help="grant JID membership (admin <item affiliation='member'/>)")
    p.add_argument("--ban", action="append", default=[], metavar="JID",
                   help="ban JID (admin <item affiliation='outcast'/>)")
    p.epilog = ("With --create, --room-password PW also configures the room: "
                "muc#roomconfig_roomsecret=PW and muc#roomconfig_passwordprotectedroom=1 "
                "(the latter only where the form has it: Prosody 0.12's has not).")


def room_options(args):
    """The configuration form values asked for: {var: [values]}."""
    options = {}

    def add(var, value):
        if "#" not in var and var != "FORM_TYPE":
            var = "muc#roomconfig_" + var
        options.setdefault(var, []).append(value)

    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PeerExit(EXIT_USAGE, f"--config {item!r}: expected KEY=VALUE")
        add(key, value)
    if args.room_password is not None and args.create:
        add("roomsecret", args.room_password)
        add("passwordprotectedroom", "1")
    if args.members_only:
        add("membersonly", "1")
    if args.moderated:
        add("moderatedroom", "1")
        # ejabberd makes newcomers participants, not visitors, unless
        # its own members_by_default is off.
        options.setdefault("members_by_default", []).append("0")
    if args.persistent:
        add("persistentroom", "1")
    if args.create and "muc#roomconfig_changesubject" not in options:
        # The same room on every server: Prosody's default, not ejabberd's.
        add("changesubject", "0")
    return options


async def cmd_muc(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    stop = stop_signals()
    done = loop.create_future()
    options = room_options(args)
    if options and not args.create:
        raise PeerExit(EXIT_USAGE, "--config, --members-only, --moderated and "
                                   "--persistent need --create")
    received = 0

    def remaining():
        return max(deadline - loop.time(), 0.01)

    def on_presence(record):
        if not done.done():
            emit(record)

    def on_message(stanza, nick, own):
        nonlocal received
        if done.done():
            return
        record = muc_message_record(stanza, nick, own)
        emit(record)
        if not own and record["type_attr"] == "groupchat" and record["body"] is not None:
            received += 1
            if args.count is not None and received >= args.count:
                done.set_result(None)

    xmpp = await login(args, args.jid, args.password, timeout=remaining())
    room = Room(xmpp, args.room, default_nick(args), on_presence, on_message)
    try:
        codes = await room.join(args.room_password, remaining(), args.history)
    except PeerExit:
        await logout(xmpp)
        raise
    # The room sends history and subject right after our own presence
    # (XEP-0045 §7.2); one round trip to the room and they are in, so the
    # "joined" record and the ready file come after them.
    await room.barrier(remaining())
    created = "201" in codes
    if created and not args.create:
        await room.leave()
        await logout(xmpp)
        raise PeerExit(EXIT_ERROR, f"room {args.room} does not exist (the join created "
                                   "it, and leaving removed it); use --create")
    try:
        if args.create and (created or options):
            await configure_room(xmpp, args.room, options, remaining())
        if args.member:
            await set_affiliation(xmpp, args.room, "member", args.member, remaining())
        if args.ban:
            await set_affiliation(xmpp, args.room, "outcast", args.ban, remaining())
    except PeerExit:
        await room.leave()
        await logout(xmpp)
        raise
    emit({"kind": "joined", "room": args.room, "nick": room.nick, "created": created,
          "status_codes": codes})
    if args.ready:
        touch(args.ready)
    if args.count is not None and args.count <= 0 and not done.done():
        done.set_result(None)

    finished, _ = await asyncio.wait({done, stop, xmpp.lost, room.left},
                                     timeout=max(deadline - loop.time(), 0),
                                     return_when=asyncio.FIRST_COMPLETED)
    if xmpp.lost in finished and not done.done():
        raise PeerExit(EXIT_CONNECT, f"connection lost after {received} message(s)")
    if room.left in finished and not done.done():
        emit({"kind": "left", "room": args.room, "nick": room.nick,
              "status_codes": room.left.result()})
        await logout(xmpp)
        raise PeerExit(EXIT_CONNECT, f"removed from {args.room} (status codes "
                                     f"{' '.join(room.left.result()) or 'none'})")
    await room.leave()
    await logout(xmpp)
    if not finished and args.count is not None:
        raise PeerExit(EXIT_TIMEOUT, f"timeout after {args.timeout:g} s: "
                                     f"received {received} of {args.count} message(s)")
    return EXIT_OK


# --------------------------------------------------------------------------
# muc-send


def add_muc_send_args(p):
    p.description = (
        "Join ROOM (unless --no-join), send message(s) to the room's bare JID, "
        "wait for each one's reflection (same id, from our occupant JID) or error, "
        "leave. Prints each reflection (kind \"message\", as muc) and each error "
        "(kind \"error\", stage join or send); exit 8 if any message or the join "
        "bounced. A subject change (a <subject/> without <body/>) is reflected "
        "without our id; it is matched by its subject.")
    add_room_args(p, "nickname (default: the JID's local part)")
    p.add_argument("--type", default="groupchat",
                   help="type attribute, sent verbatim (default groupchat)")
    body = p.add_mutually_exclusive_group()
    body.add_argument("--body")
    body.add_argument("--body-file", metavar="FILE", help="body from FILE (UTF-8; - is stdin)")
    p.add_argument("--subject")
    p.add_argument("--thread")
    p.add_argument("--id", help="id attribute (default: a new one per message)")
    p.add_argument("--origin-id", metavar="ID", help="add <origin-id xmlns='urn:xmpp:sid:0' id=ID/>")
    p.add_argument("--extra-xml", action="append", default=[], metavar="XML",
                   help="append this XML element to each message (repeatable)")
    p.add_argument("--count", type=int,
                   help="send N messages; {n} in body, subject, thread, id and "
                        "origin-id is replaced by the message number 1..N")
    p.add_argument("--no-join", action="store_true",
                   help="send without joining (as a non-occupant); then wait for "
                        "errors until the room answers a disco#info query")
    p.add_argument("--no-wait", action="store_true",
                   help="do not wait for reflections; only until the room answers "
                        "a disco#info query")
    p.add_argument("--timeout", type=float, default=20,
                   help="overall limit in seconds (default 20); exit 3 when reached")


async def cmd_muc_send(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    body = read_body(args)
    extra = []
    for text in args.extra_xml:
        try:
            extra.append(ET.fromstring(text))
        except ET.ParseError as e:
            raise PeerExit(EXIT_USAGE, f"--extra-xml {text!r}: {e}")
    count = 1 if args.count is None else args.count
    pending = []  # [(id, subject if a subject change)] not yet reflected
    all_settled = loop.create_future()  # every message reflected or bounced
    bounces = []

    def remaining():
        return max(deadline - loop.time(), 0.01)

    def settle():
        if not pending and not all_settled.done():
            all_settled.set_result(None)

    def on_message(stanza, nick, own):
        xml = stanza.xml
        if xml.get("type") == "error":
            for i, (mid, _) in enumerate(pending):
                if mid == xml.get("id"):
                    del pending[i]
                    break
            record = error_record(xml, "send", str(stanza))
            bounces.append(record)
            emit(record)
            settle()
            return
        if not own:
            return
        subject = _child_text(xml, NS_CLIENT, "subject")
        for i, (mid, subj) in enumerate(pending):
            if mid == xml.get("id") or (subj is not None and xml.get("id") is None
                                        and subject == subj):
                del pending[i]
                emit(muc_message_record(stanza, nick, own))
                settle()
                return

    xmpp = await login(args, args.jid, args.password, timeout=remaining())
    room = Room(xmpp, args.room, default_nick(args), None, on_message)
    if not args.no_join:
        try:
            await room.join(args.room_password, remaining())
        except PeerExit:
            await logout(xmpp)
            raise

    def number(value, n):
        if value is None or args.count is None:
            return value
        return value.replace("{n}", str(n))

    for n in range(1, count + 1):
        msg = xmpp.Message()
        msg["to"] = args.room
        msg.xml.set("type", args.type)
        mid = number(args.id, n) if args.id is not None else f"xpeer-{n}-{xmpp.new_id()[:12]}"
        msg.xml.set("id", mid)
        if body is not None:
            msg["body"] = number(body, n)
        if args.subject is not None:
            msg["subject"] = number(args.subject, n)
        if args.thread is not None:
            msg["thread"] = number(args.thread, n)
        if args.origin_id is not None:
            ET.SubElement(msg.xml, _q(NS_SID, "origin-id")).set("id", number(args.origin_id, n))
        for el in extra:
            msg.xml.append(ET.fromstring(ET.tostring(el)))
        subject_change = number(args.subject, n) if args.subject is not None \
            and body is None and args.thread is None else None
        pending.append((mid, subject_change))
        msg.send()
    # Nothing was received meanwhile: handlers run only once we wait.
    try:
        if args.no_join or args.no_wait:
            await room.barrier(remaining())
        else:
            await until_lost(xmpp, all_settled, remaining(),
                             f"the reflection of {len(pending)} message(s)")
    except PeerExit:
        await room.leave()
        await logout(xmpp)
        raise
    await room.leave()
    await logout(xmpp)
    if bounces:
        return EXIT_REJECTED
    return EXIT_OK


# --------------------------------------------------------------------------
# muc-check


def add_muc_check_args(p):
    p.description = (
        "Ask ROOM for its disco#info (XEP-0030, XEP-0045 §6.4). Exit 0 if it "
        "exists, printing kind \"room\" (room, exists true, identities, features, "
        "fields: the muc#roominfo form, each value a list), 1 if it does not "
        "(item-not-found: kind \"room\", exists false, error_condition), 8 on any "
        "other error (kind \"error\").")
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--room", required=True, type=room_jid_arg, metavar="ROOM@SERVICE")
    p.add_argument("--timeout", type=float, default=20,
                   help="overall limit in seconds (default 20); exit 3 when reached")


async def cmd_muc_check(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    xmpp = await login(args, args.jid, args.password, timeout=args.timeout)
    try:
        answer = await iq_request(xmpp, args.room, "get", ET.Element(_q(NS_DISCO_INFO, "query")),
                                  max(deadline - loop.time(), 0.01),
                                  f"disco#info to {args.room}")
    finally:
        await logout(xmpp)
    if answer["type"] == "error":
        condition, text = stanza_error(answer.xml)
        if condition == "item-not-found":
            emit({"kind": "room", "room": args.room, "exists": False,
                  "error_condition": condition, "error_text": text, "xml": str(answer)})
            return EXIT_ERROR
        raise iq_failed(answer, "disco#info")
    query = answer.xml.find(_q(NS_DISCO_INFO, "query"))
    identities, features, fields = [], [], {}
    if query is not None:
        for ident in query.findall(_q(NS_DISCO_INFO, "identity")):
            identities.append({"category": ident.get("category"), "type": ident.get("type"),
                               "name": ident.get("name")})
        features = [f.get("var") for f in query.findall(_q(NS_DISCO_INFO, "feature"))]
        form = query.find(_q(NS_DATA, "x"))
        if form is not None:
            fields = {var: values for var, _, values in data_form_fields(form) if var}
    emit({"kind": "room", "room": args.room, "exists": True, "identities": identities,
          "features": features, "fields": fields, "xml": str(answer)})
    return EXIT_OK


# --------------------------------------------------------------------------
# sub: a contact's side of the subscription handshakes (RFC 6121 §3)

NS_ROSTER = "jabber:iq:roster"
SUBSCRIPTION_TYPES = ("subscribe", "subscribed", "unsubscribe", "unsubscribed")


def add_sub_args(p):
    p.description = (
        "Play a contact in subscription tests (RFC 6121 §3). Log in, fetch the "
        "roster (the server then sends this session the subscription state "
        "changes), send initial presence unless --no-presence (new subscription "
        "requests go only to available resources), send the --send presences in "
        "order, and print every subscription presence received: kind "
        "\"subscription\", type (subscribe, subscribed, unsubscribe, "
        "unsubscribed), from, to, status (null without <status/>), xml. Nothing is "
        "answered unless --approve or --deny (slixmpp's automatic answers are "
        "off). With --roster, this account's roster is printed at the end: one "
        "record of kind \"roster\" per item (jid, subscription, ask, name, groups "
        "sorted), sorted by jid, as the server sends it.")
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--send", nargs=2, action="append", default=[], metavar=("TYPE", "JID"),
                   help="send <presence type=TYPE to=JID/> once logged in; TYPE is "
                        "subscribe, subscribed, unsubscribe or unsubscribed "
                        "(repeatable, sent in order)")
    p.add_argument("--status", help="a <status/> text in each --send presence")
    answer = p.add_mutually_exclusive_group()
    answer.add_argument("--approve", action="store_true",
                        help="answer every subscribe received with subscribed")
    answer.add_argument("--deny", action="store_true",
                        help="answer every subscribe received with unsubscribed")
    p.add_argument("--presence", dest="presence", action="store_true", default=True,
                   help="send initial presence (default)")
    p.add_argument("--no-presence", dest="presence", action="store_false")
    p.add_argument("--count", type=int,
                   help="exit 0 after N subscription presences (0: once --send is done)")
    p.add_argument("--timeout", type=float, default=20,
                   help="overall limit in seconds (default 20); with --count, reaching "
                        "it is exit 3, without, it is the normal end")
    p.add_argument("--ready", metavar="FILE",
                   help="create FILE once the server has processed the --send presences "
                        "and routes subscription presences to us")
    p.add_argument("--roster", action="store_true",
                   help="print this account's roster at the end (kind \"roster\")")


async def roster_records(xmpp, timeout):
    """The account's roster as records of kind "roster", sorted by jid."""
    answer = await iq_request(xmpp, xmpp.boundjid.bare, "get",
                              ET.Element(_q(NS_ROSTER, "query")), timeout, "the roster")
    if answer["type"] == "error":
        raise iq_failed(answer, "roster")
    query = answer.xml.find(_q(NS_ROSTER, "query"))
    records = []
    for item in (query.findall(_q(NS_ROSTER, "item")) if query is not None else []):
        records.append({
            "kind": "roster",
            "jid": item.get("jid"),
            "subscription": item.get("subscription", "none"),
            "ask": item.get("ask"),
            "name": item.get("name"),
            "groups": sorted(g.text or "" for g in item.findall(_q(NS_ROSTER, "group"))),
        })
    return sorted(records, key=lambda r: r["jid"] or "")


async def cmd_sub(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    done = loop.create_future()
    stop = stop_signals()
    received = 0
    xmpp_ref = []
    for ptype, _ in args.send:
        if ptype not in SUBSCRIPTION_TYPES:
            raise PeerExit(EXIT_USAGE, f"--send {ptype!r}: not one of "
                                       f"{', '.join(SUBSCRIPTION_TYPES)}")

    def remaining():
        return max(deadline - loop.time(), 0.01)

    def presence(ptype, to, status=None):
        p = xmpp_ref[0].Presence()
        p["to"] = to
        p.xml.set("type", ptype)
        if status is not None:
            p["status"] = status
        p.send()

    def on_presence(stanza):
        nonlocal received
        xml = stanza.xml
        ptype = xml.get("type")
        if ptype not in SUBSCRIPTION_TYPES or done.done():
            return
        emit({"kind": "subscription", "type": ptype, "from": xml.get("from"),
              "to": xml.get("to"), "status": _child_text(xml, NS_CLIENT, "status"),
              "xml": str(stanza)})
        if ptype == "subscribe" and (args.approve or args.deny):
            bare, _ = bare_of(xml.get("from"))
            if bare:
                presence("subscribed" if args.approve else "unsubscribed", bare)
        received += 1
        if args.count is not None and received >= args.count:
            done.set_result(None)

    def setup(x):
        xmpp_ref.append(x)
        # No automatic answers: the test decides what the contact says.
        x.auto_authorize = None
        x.auto_subscribe = False
        x.register_handler(Callback("xpeer subscriptions",
                                    MatchXPath(_q(NS_CLIENT, "presence")), on_presence))

    xmpp = await login(args, args.jid, args.password, setup=setup, timeout=remaining())
    try:
        await roster_records(xmpp, remaining())  # makes this session "interested"
        if args.presence:
            xmpp.send_presence()
        for ptype, to in args.send:
            presence(ptype, to, args.status)
        await barrier(xmpp, remaining())
    except PeerExit:
        await logout(xmpp)
        raise
    if args.ready:
        touch(args.ready)
    if args.count is not None and args.count <= 0 and not done.done():
        done.set_result(None)

    finished, _ = await asyncio.wait({done, stop, xmpp.lost},
                                     timeout=max(deadline - loop.time(), 0),
                                     return_when=asyncio.FIRST_COMPLETED)
    if xmpp.lost in finished and not done.done():
        raise PeerExit(EXIT_CONNECT, f"connection lost after {received} subscription presence(s)")
    try:
        # The server has processed the answers of --approve/--deny before
        # the peer exits (and before --roster reads the result).
        if args.approve or args.deny or args.roster:
            await barrier(xmpp, 10)
        if args.roster:
            for record in await roster_records(xmpp, 10):
                emit(record)
    except PeerExit:
        await logout(xmpp)
        raise
    await logout(xmpp)
    if not finished and args.count is not None:
        raise PeerExit(EXIT_TIMEOUT, f"timeout after {args.timeout:g} s: received "
                                     f"{received} of {args.count} subscription presence(s)")
    return EXIT_OK


# --------------------------------------------------------------------------
# presence, watch (RFC 6121 §4): a contact whose presence the test changes,
# and one that prints the presence it receives


NS_DELAY_LEGACY = "jabber:x:delay"
SHOWS = ("available", "away", "chat", "dnd", "xa")


def presence_spec(value):
    """SHOW[:STATUS] for --then: SHOW is available, away, chat, dnd, xa or
    unavailable; returns (show, status or None)."""
    show, sep, status = value.partition(":")
    if show not in SHOWS + ("unavailable",):
        raise argparse.ArgumentTypeError(
            f"{value!r}: SHOW is one of {', '.join(SHOWS)}, unavailable")
    return show, (status if sep else None)


def with_resource(jid, resource):
    return f"{jid}/{resource}" if resource else jid


def quiet_roster(xmpp):
    """Neither accept nor ask for subscriptions on our own: the tests decide
    who sees whose presence."""
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False


def send_own_presence(xmpp, show, status, priority, to=None):
    """Send <presence/> as the options say (show 'available' is no <show/>,
    'unavailable' is type unavailable); the element is built by hand so that
    exactly that goes out."""
    pres = xmpp.Presence()
    if to is not None:
        pres["to"] = to
    if show == "unavailable":
        pres.xml.set("type", "unavailable")
    elif show not in (None, "available"):
        ET.SubElement(pres.xml, _q(NS_CLIENT, "show")).text = show
    if status is not None:
        ET.SubElement(pres.xml, _q(NS_CLIENT, "status")).text = status
    if priority is not None and show != "unavailable":
        ET.SubElement(pres.xml, _q(NS_CLIENT, "priority")).text = str(priority)
    pres.send()
    return {"kind": "sent", "to": to, "show": show or "available", "status": status,
            "priority": priority if show != "unavailable" else None}


def add_presence_args(p):
    p.description = (
        "Log in (as JID/--resource), send presence with --show, --status and "
        "--priority, and stay: after --stay seconds, SIGTERM or SIGINT, send "
        "unavailable presence (unless the last --then was one) and log out "
        "(exit 0). --then SHOW[:STATUS] (repeatable) sends each further "
        "presence in turn, --step seconds "
        "apart, once the first one is processed; 'unavailable' as SHOW sends "
        "type unavailable (and stays logged in). Prints one JSON line per "
        "presence sent (kind \"sent\": to, show, status, priority) and every "
        "subscription request received (kind \"presence\", as watch): "
        "subscriptions are never answered. --ready FILE is created once the "
        "server has processed the first presence.")
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--resource", help="the resource to bind (default: the server's)")
    p.add_argument("--show", default="available", choices=SHOWS,
                   help="available (no <show/>; the default), away, chat, dnd or xa")
    p.add_argument("--status", help="the <status/> text")
    p.add_argument("--priority", type=int, help="the <priority/> (default: none)")
    p.add_argument("--to", help="send the presence to TO only (directed presence)")
    p.add_argument("--then", action="append", default=[], type=presence_spec,
                   metavar="SHOW[:STATUS]", help="a further presence (repeatable)")
    p.add_argument("--step", type=float, default=0.2,
                   help="seconds between the presences of --then (default 0.2)")
    p.add_argument("--stay", type=float,
                   help="seconds to stay after the last presence (default: until "
                        "SIGTERM, SIGINT or --timeout)")
    p.add_argument("--timeout", type=float, default=60,
                   help="overall limit in seconds (default 60): the normal end")
    p.add_argument("--ready", metavar="FILE",
                   help="create FILE once the server has processed the first presence")


async def cmd_presence(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    stop = stop_signals()

    def on_presence(stanza):
        if stanza.xml.get("type") in ("subscribe", "unsubscribe"):
            emit(presence_watch_record(stanza))

    def setup(xmpp):
        quiet_roster(xmpp)
        xmpp.register_handler(Callback("xpeer presence", MatchXPath(_q(NS_CLIENT, "presence")),
                                       on_presence))

    xmpp = await login(args, with_resource(args.jid, args.resource), args.password,
                       setup=setup, timeout=deadline - loop.time())
    emit(send_own_presence(xmpp, args.show, args.status, args.priority, args.to))
    await barrier(xmpp)
    if args.ready:
        touch(args.ready)
    for show, status in args.then:
        finished, _ = await asyncio.wait({stop, xmpp.lost}, timeout=args.step)
        if finished:
            break
        emit(send_own_presence(xmpp, show, status, args.priority, args.to))
        await barrier(xmpp)
    if not stop.done() and not xmpp.lost.done():
        limit = max(deadline - loop.time(), 0)
        if args.stay is not None:
            limit = min(limit, args.stay)
        await asyncio.wait({stop, xmpp.lost}, timeout=limit,
                           return_when=asyncio.FIRST_COMPLETED)
    if xmpp.lost.done():
        raise PeerExit(EXIT_CONNECT, "connection lost")
    if not args.then or args.then[-1][0] != "unavailable":
        emit(send_own_presence(xmpp, "unavailable", None, None, args.to))
        await barrier(xmpp)
    await logout(xmpp)
    return EXIT_OK


def presence_watch_record(stanza):
    """The JSON record (kind "presence") of a received <presence/>, read
    from the XML: from, to, type (null when absent), show, status, priority
    (null when absent, as text), delay (XEP-0203 stamp, or the legacy
    jabber:x:delay one), error_condition, xml."""
    xml = stanza.xml
    delay = xml.find(_q(NS_DELAY, "delay"))
    if delay is None:
        delay = xml.find(_q(NS_DELAY_LEGACY, "x"))
    condition, _ = stanza_error(xml)
    return {
        "kind": "presence",
        "from": xml.get("from"),
        "to": xml.get("to"),
        "type": xml.get("type"),
        "show": _child_text(xml, NS_CLIENT, "show"),
        "status": _child_text(xml, NS_CLIENT, "status"),
        "priority": _child_text(xml, NS_CLIENT, "priority"),
        "delay": delay.get("stamp") if delay is not None else None,
        "error_condition": condition,
        "xml": str(stanza),
    }


def add_watch_args(p):
    p.description = (
        "Log in, send initial presence (unless --no-presence), and print every "
        "<presence/> received, of any type, as one JSON line (kind \"presence\": "
        "from, to, type (null when absent), show, status, priority, delay, "
        "error_condition, xml), in order. Subscription requests are printed, "
        "never answered. --subscribe JID sends <presence type='subscribe'/> to "
        "JID once ready. SIGTERM or SIGINT make it log out and exit 0.")
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--resource", help="the resource to bind (default: the server's)")
    p.add_argument("--presence", dest="presence", action="store_true", default=True,
                   help="send initial presence (default)")
    p.add_argument("--no-presence", dest="presence", action="store_false")
    p.add_argument("--priority", type=int, help="priority of the initial presence")
    p.add_argument("--from", dest="from_", action="append", default=[], metavar="JID",
                   help="print only presence from JID (bare: any resource); repeatable")
    p.add_argument("--subscribe", action="append", default=[], metavar="JID",
                   help="once ready, ask JID for a presence subscription (repeatable)")
    p.add_argument("--count", type=int, help="exit 0 after N records")
    p.add_argument("--timeout", type=float, default=30,
                   help="overall limit in seconds (default 30); with --count, "
                        "reaching it is exit 3, without, it is the normal end")
    p.add_argument("--ready", metavar="FILE",
                   help="create FILE once the server has processed our initial "
                        "presence (and the presence of the contacts is in)")


async def cmd_watch(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    done = loop.create_future()
    stop = stop_signals()
    printed = 0
    wanted = [slixmpp.JID(j) for j in args.from_]

    def matches(frm):
        if not wanted:
            return True
        try:
            j = slixmpp.JID(frm or "")
        except InvalidJID:
            return False
        return any(j == w if w.resource else j.bare == w.bare for w in wanted)

    def on_presence(stanza):
        nonlocal printed
        if done.done() or not matches(stanza.xml.get("from")):
            return
        emit(presence_watch_record(stanza))
        printed += 1
        if args.count is not None and printed >= args.count:
            done.set_result(None)

    def setup(xmpp):
        quiet_roster(xmpp)
        xmpp.register_handler(Callback("xpeer watch", MatchXPath(_q(NS_CLIENT, "presence")),
                                       on_presence))

    xmpp = await login(args, with_resource(args.jid, args.resource), args.password,
                       presence=args.presence, priority=args.priority, setup=setup,
                       timeout=deadline - loop.time())
    # The server answers the probes of its own users while it processes the
    # initial presence: after the barrier their presence is in.
    await barrier(xmpp)
    for jid in args.subscribe:
        xmpp.send_presence_subscription(pto=jid, ptype="subscribe")
    if args.subscribe:
        await barrier(xmpp)
    if args.ready:
        touch(args.ready)
    if args.count is not None and args.count <= 0 and not done.done():
        done.set_result(None)
    finished, _ = await asyncio.wait({done, stop, xmpp.lost},
                                     timeout=max(deadline - loop.time(), 0),
                                     return_when=asyncio.FIRST_COMPLETED)
    if xmpp.lost in finished and not done.done():
        raise PeerExit(EXIT_CONNECT, f"connection lost after {printed} presence(s)")
    await logout(xmpp)
    if not finished and args.count is not None:
        raise PeerExit(EXIT_TIMEOUT, f"timeout after {args.timeout:g} s: "
                                     f"received {printed} of {args.count} presence(s)")
    return EXIT_OK


# --------------------------------------------------------------------------
# Command line

SUBCOMMANDS = {
    # name: (add_arguments, coroutine, one-line help)
    "recv": (add_recv_args, cmd_recv, "print every received message as a JSON line"),
    "send": (add_send_args, cmd_send, "send message(s); exit once the server has them"),
    "muc": (add_muc_args, cmd_muc, "be an occupant of a room (create and configure it "
                                   "with --create); print its messages and presences"),
    "muc-send": (add_muc_send_args, cmd_muc_send, "join a room, send message(s), wait for "
                                                  "their reflection, leave"),
    "muc-check": (add_muc_check_args, cmd_muc_check, "exit 0 if a room exists (disco#info), "
                                                     "1 if not"),
    "presence": (add_presence_args, cmd_presence, "set presence (show, status, priority), "
                                                  "change it with --then, stay"),
    "watch": (add_watch_args, cmd_watch, "print every received presence as a JSON line"),
    "sub": (add_sub_args, cmd_sub, "play a contact: send subscription presences, print "
                                   "those received, answer with --approve/--deny"),
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
    try:
        return await command(args)
    finally:
        # The peer is done: a stop request that comes now (a test killing
        # a peer whose --timeout has just run out) must not turn its exit
        # status into "killed by SIGTERM" while the interpreter shuts down.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)


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

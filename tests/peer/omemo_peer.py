#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""omemo_peer -- an independent OMEMO (XEP-0384) client for the xmpptools tests.

    omemo_peer.py [CONNECTION OPTIONS] SUBCOMMAND [OPTIONS]

It checks what `xsend --omemo` sends and sends what `xlisten --omemo`
receives, with Debian's python3-omemo and its two backends: python3-oldmemo
(OMEMO 0.3, eu.siacs.conversations.axolotl) and python3-twomemo (OMEMO 2,
urn:xmpp:omemo:2); python3-xmlschema is needed by their XML helpers. Run it
with Debian's /usr/bin/python3. The connection, the JSON output and the exit
codes are those of xpeer.py, whose code it uses.

Connection options (accepted before or after the subcommand):
  --host H  --port P  --ca FILE  --direct-tls  --login-timeout S  --debug

Subcommands:
  publish  create the device (or load it from --store), publish its device
           list entry and bundle (--version 0.3, 2 or both), print its
           {"kind": "device", ...} record and exit
  recv     publish as above (print the device record), then print every
           received <message/> as a {"kind": "message", ...} record,
           decrypted; SIGTERM or SIGINT make it log out and exit 0
  send     encrypt --body for every device of --to (and the other devices
           of our own account), send it, wait until the server has it
  devices  print the device list of --of and each bundle's fingerprint

Records (one JSON object a line):
  device      {"kind": "device", "jid", "id", "fingerprint", "versions"}: our
              device (publish, recv: one per device, before --ready)
  message     {"kind": "message", "device" (ours), "from", "type", "id",
              "encrypted" ("0.3", "2" or null), "body" (decrypted; null when
              it could not be), "fallback" (the plain <body/> of an encrypted
              message, never in "body"), "sender_device" (the header's sid),
              "empty" (true for an OMEMO message without payload, which only
              carries keys: not counted by --count), "error" (why it did not
              decrypt, else null), "envelope_from" (OMEMO 2: the SCE <from
              jid/>), "xml" (the stanza)}
  sent        {"kind": "sent", "to", "encrypted", "sender_device",
              "recipients" ([jid, device id] pairs), "tampered"}
  devicelist  {"kind": "devicelist", "jid", "version", "ids", "error"}, then
  device      {"kind": "device", "jid", "id", "version", "fingerprint",
              "identity_key" (base64, as in the bundle), "error"} for each
              listed device (devices)

A device is an identity key, a device id, pre keys and sessions: --store DIR
keeps them in DIR/omemo.json so that the same device comes back in a later
run; without --store every run is a new device. Every device trusts every
other device it meets (blind trust).

Fingerprints are the 32-byte Curve25519 identity key in lowercase hex, eight
groups of eight digits separated by spaces, as Conversations shows them (for
OMEMO 0.3 the key without its 0x05 prefix); a device has the same
fingerprint under both versions.

Message bodies: OMEMO 0.3 encrypts the UTF-8 body itself; OMEMO 2 encrypts
an XEP-0420 envelope <envelope xmlns='urn:xmpp:sce:1'><content><body
xmlns='jabber:client'>BODY</body></content><rpad>...</rpad><from
jid='SENDER'/></envelope>. Sent messages are type chat (--type) with the
XEP-0380 <encryption/> hint, a <store/> hint and a plain fallback <body/>.

Exit status: as xpeer.py (0 ok, 1 unexpected error, 2 usage, 3 timeout,
4 connection, 5 TLS, 6 authentication, 8 bounce, 9 stream error); send
exits 1 when the recipient has no device it can encrypt for.
"""

import argparse
import asyncio
import base64
import json
import logging
import os
import secrets
import signal
import sys
from xml.sax.saxutils import escape, quoteattr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import xpeer  # noqa: E402
from xpeer import (  # noqa: E402
    EXIT_CONNECT, EXIT_ERROR, EXIT_OK, EXIT_REJECTED, EXIT_TIMEOUT, EXIT_USAGE,
    PeerExit, barrier, emit, login, logout, on_messages, stop_signals, touch)
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402
from slixmpp.jid import JID, InvalidJID  # noqa: E402
from slixmpp.xmlstream import ET  # noqa: E402

try:
    import omemo
    import oldmemo
    import oldmemo.etree
    import twomemo
    import twomemo.etree
    import xmlschema
except ImportError as missing:  # reported by main(): the peer cannot run
    OMEMO_MISSING = str(missing)
else:
    OMEMO_MISSING = None

PROG = "omemo_peer"

NS_OLD = "eu.siacs.conversations.axolotl"
NS_TWO = "urn:xmpp:omemo:2"
VERSIONS = {"0.3": NS_OLD, "2": NS_TWO}
VERSION_OF = {ns: v for v, ns in VERSIONS.items()}
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUBSUB_OWNER = NS_PUBSUB + "#owner"
NS_PUBSUB_EVENT = NS_PUBSUB + "#event"
NS_DATA = "jabber:x:data"
NS_CLIENT = "jabber:client"
NS_SCE = "urn:xmpp:sce:1"
NS_EME = "urn:xmpp:eme:0"
NS_HINTS = "urn:xmpp:hints"
IQ_TIMEOUT = 10
TRUST = "blind"  # the one trust level name: every device is trusted
FALLBACK = "I sent you an OMEMO encrypted message but your client doesn't seem to support that."


def _q(ns, name):
    return f"{{{ns}}}{name}"


def warn(message):
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def fingerprint(identity_key):
    """The fingerprint of an identity key as the library holds it (Ed25519)."""
    return " ".join(omemo.SessionManager.format_identity_key(identity_key))


def versions_arg(value):
    """--version: 0.3, 2 or both -> list of namespaces, newest first."""
    if value == "both":
        return [NS_TWO, NS_OLD]
    if value in VERSIONS:
        return [VERSIONS[value]]
    raise argparse.ArgumentTypeError(f"{value!r}: choose 0.3, 2 or both")


# --------------------------------------------------------------------------
# PEP (XEP-0163) with raw pubsub iqs


def devicelist_node(ns):
    return NS_OLD + ".devicelist" if ns == NS_OLD else NS_TWO + ":devices"


def bundle_node(ns, device_id):
    return f"{NS_OLD}.bundles:{device_id}" if ns == NS_OLD else NS_TWO + ":bundles"


def bundle_item(ns, device_id):
    return "current" if ns == NS_OLD else str(device_id)


def iq_error_text(e):
    if isinstance(e, IqTimeout):
        return "no answer"
    return f"{e.iq['error']['condition']} {e.iq['error']['text']}".rstrip()


async def pep_publish(xmpp, node, item_id, payload, options):
    """Publish payload as item item_id of our own node, with these
    publish-options (pubsub#NAME: value). Raises IqError, IqTimeout."""
    iq = xmpp.Iq()
    iq["type"] = "set"
    pubsub = ET.SubElement(iq.xml, _q(NS_PUBSUB, "pubsub"))
    publish = ET.SubElement(pubsub, _q(NS_PUBSUB, "publish"), node=node)
    ET.SubElement(publish, _q(NS_PUBSUB, "item"), id=item_id).append(payload)
    form = ET.SubElement(ET.SubElement(pubsub, _q(NS_PUBSUB, "publish-options")),
                         _q(NS_DATA, "x"), type="submit")
    fields = {"FORM_TYPE": NS_PUBSUB + "#publish-options"}
    fields.update({"pubsub#" + k: v for k, v in options.items()})
    for var, value in fields.items():
        field = ET.SubElement(form, _q(NS_DATA, "field"), var=var)
        if var == "FORM_TYPE":
            field.set("type", "hidden")
        ET.SubElement(field, _q(NS_DATA, "value")).text = value
    await iq.send(timeout=IQ_TIMEOUT)


async def pep_item(xmpp, jid, node, item_id, exact=True):
    """The payload of item item_id of JID's node, or None if there is none;
    with exact=False the first item when none has that id (a device list
    published under another id). Raises IqError (other than
    item-not-found), IqTimeout."""
    iq = xmpp.Iq()
    iq["type"] = "get"
    iq["to"] = jid
    pubsub = ET.SubElement(iq.xml, _q(NS_PUBSUB, "pubsub"))
    items_el = ET.SubElement(pubsub, _q(NS_PUBSUB, "items"), node=node)
    if exact:
        ET.SubElement(items_el, _q(NS_PUBSUB, "item"), id=item_id)
    try:
        result = await iq.send(timeout=IQ_TIMEOUT)
    except IqError as e:
        if e.iq["error"]["condition"] == "item-not-found":
            return None
        raise
    items = result.xml.findall(f"{_q(NS_PUBSUB, 'pubsub')}/{_q(NS_PUBSUB, 'items')}"
                               f"/{_q(NS_PUBSUB, 'item')}")
    chosen = [i for i in items if i.get("id") == item_id] or ([] if exact else items[:1])
    if not chosen or len(chosen[0]) == 0:
        return None
    return chosen[0][0]


async def pep_configure(xmpp, node, options):
    """Set these options (pubsub#NAME: value) of our own node. Raises
    IqError, IqTimeout."""
    iq = xmpp.Iq()
    iq["type"] = "set"
    pubsub = ET.SubElement(iq.xml, _q(NS_PUBSUB_OWNER, "pubsub"))
    form = ET.SubElement(ET.SubElement(pubsub, _q(NS_PUBSUB_OWNER, "configure"), node=node),
                         _q(NS_DATA, "x"), type="submit")
    fields = {"FORM_TYPE": NS_PUBSUB + "#node_config"}
    fields.update({"pubsub#" + k: v for k, v in options.items()})
    for var, value in fields.items():
        field = ET.SubElement(form, _q(NS_DATA, "field"), var=var)
        if var == "FORM_TYPE":
            field.set("type", "hidden")
        ET.SubElement(field, _q(NS_DATA, "value")).text = value
    await iq.send(timeout=IQ_TIMEOUT)


async def pep_remove(xmpp, node, item_id=None):
    """Retract item_id of our own node, or delete the node without item_id;
    absent is fine. Raises IqError, IqTimeout."""
    iq = xmpp.Iq()
    iq["type"] = "set"
    if item_id is None:
        pubsub = ET.SubElement(iq.xml, _q(NS_PUBSUB_OWNER, "pubsub"))
        ET.SubElement(pubsub, _q(NS_PUBSUB_OWNER, "delete"), node=node)
    else:
        pubsub = ET.SubElement(iq.xml, _q(NS_PUBSUB, "pubsub"))
        retract = ET.SubElement(pubsub, _q(NS_PUBSUB, "retract"), node=node)
        ET.SubElement(retract, _q(NS_PUBSUB, "item"), id=item_id)
    try:
        await iq.send(timeout=IQ_TIMEOUT)
    except IqError as e:
        if e.iq["error"]["condition"] != "item-not-found":
            raise


def etree_of(ns):
    return oldmemo.etree if ns == NS_OLD else twomemo.etree


async def fetch_device_list(xmpp, ns, jid):
    """{device id: label} of JID's published list ({} when it has none)."""
    element = await pep_item(xmpp, jid, devicelist_node(ns), "current", exact=False)
    return {} if element is None else etree_of(ns).parse_device_list(element)


async def fetch_bundle(xmpp, ns, jid, device_id):
    """The parsed bundle of a device, or None if it has none published."""
    element = await pep_item(xmpp, jid, bundle_node(ns, device_id), bundle_item(ns, device_id))
    return None if element is None else etree_of(ns).parse_bundle(element, jid, device_id)


# --------------------------------------------------------------------------
# The OMEMO library's storage and session manager


class JsonStorage(omemo.Storage if OMEMO_MISSING is None else object):
    """The library's key/value storage in one JSON file (None: in memory),
    rewritten (atomically) at every change."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.data = {}
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self.data = json.load(f)

    def _save(self):
        if not self.path:
            return
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f)
        os.replace(tmp, self.path)

    async def _load(self, key):
        return omemo.Just(self.data[key]) if key in self.data else omemo.Nothing()

    async def _store(self, key, value):
        self.data[key] = value
        self._save()

    async def _delete(self, key):
        if self.data.pop(key, None) is not None:
            self._save()


def message_stanza(xmpp, to, message, mtype, tamper=False):
    """A <message/> carrying an encrypted omemo.Message (its <encrypted/>, the
    XEP-0380 hint, a store hint and a fallback body)."""
    ns = message.namespace
    encrypted = etree_of(ns).serialize_message(message)
    payload = encrypted.find(_q(ns, "payload"))
    if tamper and payload is not None:
        data = bytearray(base64.b64decode(payload.text))
        data[len(data) // 2] ^= 0x01
        payload.text = base64.b64encode(bytes(data)).decode("ascii")
    msg = xmpp.Message()
    msg["to"] = to
    msg.xml.set("type", mtype)
    msg.xml.set("id", xmpp.new_id())
    msg.xml.append(encrypted)
    if payload is not None:
        ET.SubElement(msg.xml, _q(NS_EME, "encryption"), namespace=ns,
                      name="OMEMO" if ns == NS_OLD else "OMEMO 2")
        msg["body"] = FALLBACK
    ET.SubElement(msg.xml, _q(NS_HINTS, "store"))
    return msg


async def retried(publish):
    """Await publish(), again (up to 3 times in all) after an
    internal-server-error: ejabberd's Mnesia aborts one of two transactions
    on the same node, as when two devices of an account publish at once."""
    for attempt in range(3):
        try:
            return await publish()
        except IqError as e:
            if e.iq["error"]["condition"] != "internal-server-error" or attempt == 2:
                raise
            await asyncio.sleep(0.1 + 0.2 * attempt + secrets.randbelow(100) / 1000)


async def publish_bundle(xmpp, node, item, bundle):
    """Publish our bundle, readable by anyone; the OMEMO 2 node keeps one
    item per device (pubsub#max_items max). Raises IqError, IqTimeout."""
    ns = bundle.namespace
    payload = etree_of(ns).serialize_bundle(bundle)
    if ns == NS_OLD:
        await pep_publish(xmpp, node, item, payload, {"access_model": "open"})
        return
    if not getattr(xmpp, "xt_omemo_configured", False):
        try:
            await pep_publish(xmpp, node, item, payload,
                              {"access_model": "open", "max_items": "max"})
            return
        except IqError as e:
            if e.iq["error"]["condition"] not in ("resource-constraint", "bad-request",
                                                  "not-acceptable"):
                raise
    # ejabberd 23.01 takes no pubsub#max_items in publish-options and keeps
    # one item by default: configure the node once, after a publish made it.
    await pep_publish(xmpp, node, item, payload, {"access_model": "open"})
    if not getattr(xmpp, "xt_omemo_configured", False):
        await pep_configure(xmpp, node, {"max_items": "max"})
        xmpp.xt_omemo_configured = True


def session_manager_class(xmpp):
    """A SessionManager whose PEP and messages go through this session."""

    class PeerSessionManager(omemo.SessionManager):
        async def _upload_bundle(self, bundle):
            ns = bundle.namespace
            node, item = bundle_node(ns, bundle.device_id), bundle_item(ns, bundle.device_id)
            try:
                await retried(lambda: publish_bundle(xmpp, node, item, bundle))
            except (IqError, IqTimeout) as e:
                raise omemo.BundleUploadFailed(f"{VERSION_OF[ns]}: {iq_error_text(e)}") from e

        async def _download_bundle(self, namespace, bare_jid, device_id):
            try:
                bundle = await fetch_bundle(xmpp, namespace, bare_jid, device_id)
            except (IqError, IqTimeout) as e:
                raise omemo.BundleDownloadFailed(iq_error_text(e)) from e
            except (ValueError, xmlschema.XMLSchemaValidationError) as e:
                raise omemo.BundleDownloadFailed(f"invalid bundle: {e}") from e
            if bundle is None:
                raise omemo.BundleNotFound(f"{bare_jid} device {device_id} has no bundle")
            return bundle

        async def _delete_bundle(self, namespace, device_id):
            try:
                if namespace == NS_OLD:
                    await pep_remove(xmpp, bundle_node(namespace, device_id))
                else:
                    await pep_remove(xmpp, bundle_node(namespace, device_id), str(device_id))
            except (IqError, IqTimeout) as e:
                raise omemo.BundleDeletionFailed(iq_error_text(e)) from e

        async def _upload_device_list(self, namespace, device_list):
            try:
                await retried(lambda: pep_publish(
                    xmpp, devicelist_node(namespace), "current",
                    etree_of(namespace).serialize_device_list(device_list),
                    {"access_model": "open"}))
            except (IqError, IqTimeout) as e:
                raise omemo.DeviceListUploadFailed(iq_error_text(e)) from e

        async def _download_device_list(self, namespace, bare_jid):
            try:
                return await fetch_device_list(xmpp, namespace, bare_jid)
            except (IqError, IqTimeout) as e:
                raise omemo.DeviceListDownloadFailed(iq_error_text(e)) from e
            except (ValueError, xmlschema.XMLSchemaValidationError) as e:
                raise omemo.DeviceListDownloadFailed(f"invalid device list: {e}") from e

        async def _evaluate_custom_trust_level(self, device):
            return omemo.TrustLevel.TRUSTED

        async def _make_trust_decision(self, undecided, identifier):
            for device in undecided:
                await self.set_trust(device.bare_jid, device.identity_key, TRUST)

        async def _send_message(self, message, bare_jid):
            # Key exchange completions and heartbeats: no payload, no body.
            message_stanza(xmpp, bare_jid, message, "chat").send()

    return PeerSessionManager


class Device:
    """One OMEMO device: a logged-in session and its session manager."""

    def __init__(self, xmpp, manager, namespaces):
        self.xmpp = xmpp
        self.manager = manager
        self.namespaces = namespaces
        self.jid = xmpp.boundjid.bare
        self.id = None
        self.fingerprint = None
        self.task = None  # recv: the task that reads its messages

    def record(self):
        return {"kind": "device", "jid": self.jid, "id": self.id,
                "fingerprint": self.fingerprint,
                "versions": [VERSION_OF[ns] for ns in self.namespaces]}


async def open_device(xmpp, store, namespaces):
    """Create (or load from the store directory) this account's device and
    make sure its bundles and device list entries are published."""
    path = os.path.join(store, "omemo.json") if store else None
    if store:
        os.makedirs(store, exist_ok=True)
    storage = JsonStorage(path)
    loaded = "/own_device_id" in storage.data
    backends = [oldmemo.Oldmemo(storage) if ns == NS_OLD else twomemo.Twomemo(storage)
                for ns in namespaces]
    try:
        manager = await session_manager_class(xmpp).create(
            backends, storage, xmpp.boundjid.bare, None, TRUST)
        device = Device(xmpp, manager, namespaces)
        own, _ = await manager.get_own_device_information()
        if loaded:
            # The store may outlive the server: publish again.
            for backend in backends:
                await manager._upload_bundle(await backend.get_bundle(device.jid, own.device_id))
                await manager.refresh_device_list(backend.namespace, device.jid)
        await manager.after_history_sync()
    except omemo.XMPPInteractionFailed as e:
        raise PeerExit(EXIT_ERROR, f"cannot publish the OMEMO device: {type(e).__name__}: {e}")
    device.id = own.device_id
    device.fingerprint = fingerprint(own.identity_key)
    return device


# --------------------------------------------------------------------------
# Reading received messages


def sce_envelope(body, sender):
    """The XEP-0420 envelope OMEMO 2 encrypts: the body, padding, sender."""
    rpad = base64.b64encode(secrets.token_bytes(secrets.randbelow(48) + 1)).decode("ascii")
    return (f"<envelope xmlns='{NS_SCE}'><content><body xmlns='{NS_CLIENT}'>{escape(body)}"
            f"</body></content><rpad>{rpad}</rpad><from jid={quoteattr(sender)}/>"
            f"</envelope>").encode("utf-8")


def read_envelope(plaintext, record):
    """Fill record's body and envelope_from from a decrypted SCE envelope;
    an envelope without <content><body xmlns='jabber:client'/> is an error."""
    try:
        env = ET.fromstring(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ET.ParseError) as e:
        record["error"] = f"the SCE envelope is not XML: {e}"
        return
    if env.tag != _q(NS_SCE, "envelope"):
        record["error"] = f"the plaintext is not an SCE envelope: <{env.tag}>"
        return
    sender = env.find(_q(NS_SCE, "from"))
    record["envelope_from"] = sender.get("jid") if sender is not None else None
    body = env.find(f"{_q(NS_SCE, 'content')}/{_q(NS_CLIENT, 'body')}")
    if body is None:
        record["error"] = "the SCE envelope has no <content><body xmlns='jabber:client'/>"
        return
    record["body"] = body.text or ""


async def decrypt_into(device, stanza, ns, encrypted, record):
    """Decrypt an <encrypted/> element into record (body, sender_device,
    empty, error)."""
    header = encrypted.find(_q(ns, "header"))
    sid = header.get("sid") if header is not None else None
    record["sender_device"] = int(sid) if sid is not None and sid.isdigit() else None
    sender = JID(stanza.xml.get("from") or device.jid).bare
    try:
        if ns == NS_OLD:
            message = await oldmemo.etree.parse_message(encrypted, sender, device.jid,
                                                        device.manager)
        else:
            message = twomemo.etree.parse_message(encrypted, sender)
        plaintext, _, _ = await device.manager.decrypt(message)
    except Exception as e:  # noqa: BLE001 -- any failure is the record's error
        # Expected: the library's OMEMOException subclasses, ValueError and
        # XMLSchemaValidationError for malformed elements; anything else
        # is shown the same way rather than ending the peer.
        record["error"] = f"{type(e).__name__}: {e}".strip()
        return
    if plaintext is None:
        record["empty"] = True
    elif ns == NS_OLD:
        try:
            record["body"] = plaintext.decode("utf-8")
        except UnicodeDecodeError as e:
            record["error"] = f"the plaintext is not UTF-8: {e}"
    else:
        read_envelope(plaintext, record)


async def message_record(device, stanza):
    """The JSON record of a received <message/>, decrypted if it can be."""
    xml = stanza.xml
    body = xml.find(_q(NS_CLIENT, "body"))
    record = {"kind": "message", "device": device.id, "from": xml.get("from"),
              "type": xml.get("type", "normal"), "id": xml.get("id"),
              "encrypted": None, "body": None, "fallback": None,
              "sender_device": None, "empty": False, "error": None, "envelope_from": None}
    found = [(ns, xml.find(_q(ns, "encrypted"))) for ns in (NS_TWO, NS_OLD)]
    found = [(ns, el) for ns, el in found if el is not None and ns in device.namespaces]
    if not found:
        record["body"] = body.text or "" if body is not None else None
    else:
        ns, encrypted = found[0]
        record["encrypted"] = VERSION_OF[ns]
        record["fallback"] = body.text or "" if body is not None else None
        await decrypt_into(device, stanza, ns, encrypted, record)
    record["xml"] = str(stanza)
    return record


# --------------------------------------------------------------------------
# Subcommands


def add_device_args(p, versions=True):
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--resource", help="resource to bind (default: the server's choice)")
    p.add_argument("--store", metavar="DIR",
                   help="keep this device in DIR/omemo.json (default: a new device)")
    if versions:
        p.add_argument("--version", dest="versions", type=versions_arg,
                       default=versions_arg("both"), metavar="0.3|2|both",
                       help="OMEMO version(s) of the device (default both); a stored "
                            "device loaded without one of its versions withdraws that "
                            "version's bundle")
    else:
        p.set_defaults(versions=versions_arg("both"))


async def connect_device(args, jid, store, presence=False, setup=None, timeout=None):
    xmpp = await login(args, xpeer.with_resource(jid, args.resource), args.password,
                       presence=presence, setup=setup, timeout=timeout)
    try:
        return await open_device(xmpp, store, args.versions)
    except BaseException:
        await logout(xmpp)
        raise


async def cmd_publish(args):
    device = await connect_device(args, args.jid, args.store)
    emit(device.record())
    await barrier(device.xmpp)
    await logout(device.xmpp)
    return EXIT_OK


def add_recv_args(p):
    add_device_args(p)
    p.add_argument("--count", type=int,
                   help="exit 0 once each device got N messages (empty OMEMO messages, "
                        "which only carry keys, are printed but not counted)")
    p.add_argument("--timeout", type=float, default=30,
                   help="overall limit in seconds (default 30); with --count, "
                        "reaching it is exit 3, without, it is the normal end")
    p.add_argument("--ready", metavar="FILE",
                   help="create FILE once every device is published and online")
    p.add_argument("--devices", type=int, default=1, metavar="N",
                   help="run N devices of the account at once: resources RESOURCE1.. "
                        "(default omemo1..), stores DIR/1.. (default 1)")


async def start_receiver(args, n, deadline, done, on_count):
    """Log in device n of recv (1-based) and start its message worker, which
    prints nothing more once done is set (--count reached)."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    resource, store = args.resource, args.store
    if args.devices > 1:
        resource = f"{args.resource or 'omemo'}{n}"
        store = os.path.join(args.store, str(n)) if args.store else None
    xmpp = await login(args, xpeer.with_resource(args.jid, resource), args.password,
                       presence=True, setup=lambda x: on_messages(x, queue.put_nowait),
                       timeout=deadline - loop.time())
    try:
        device = await open_device(xmpp, store, args.versions)
    except BaseException:
        await logout(xmpp)
        raise
    emit(device.record())

    async def worker():
        received = 0
        while True:
            stanza = await queue.get()
            if stanza.xml.find(_q(NS_PUBSUB_EVENT, "event")) is not None:
                continue  # a PEP notification, not a message
            record = await message_record(device, stanza)
            if done.done():
                continue
            emit(record)
            if not record["empty"]:
                received += 1
                on_count(device, received)

    device.task = asyncio.ensure_future(worker())
    return device


async def cmd_recv(args):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    done = loop.create_future()
    stop = stop_signals()
    counts = {}
    if args.devices < 1:
        raise PeerExit(EXIT_USAGE, "--devices must be 1 or more")

    def on_count(device, received):
        counts[device.id] = received
        if args.count is not None and len(counts) == args.devices and \
                min(counts.values()) >= args.count and not done.done():
            done.set_result(None)

    devices = []
    try:
        # One after the other: each adds itself to the device list the
        # previous one published.
        for n in range(1, args.devices + 1):
            devices.append(await start_receiver(args, n, deadline, done, on_count))
        for device in devices:
            await barrier(device.xmpp)
        if args.ready:
            touch(args.ready)
        if args.count is not None and args.count <= 0 and not done.done():
            done.set_result(None)
        lost = [d.xmpp.lost for d in devices]
        finished, _ = await asyncio.wait({done, stop, *lost},
                                         timeout=max(deadline - loop.time(), 0),
                                         return_when=asyncio.FIRST_COMPLETED)
        if any(f in finished for f in lost) and not done.done():
            raise PeerExit(EXIT_CONNECT, f"connection lost after {sum(counts.values())} "
                                         "message(s)")
    finally:
        for device in devices:
            device.task.cancel()
            await logout(device.xmpp)
    if not finished and args.count is not None:
        raise PeerExit(EXIT_TIMEOUT, f"timeout after {args.timeout:g} s: received "
                                     f"{sorted(counts.values()) or [0]} of {args.count} "
                                     "message(s) per device")
    return EXIT_OK


def add_send_args(p):
    add_device_args(p, versions=False)
    p.add_argument("--version", dest="encrypt_with", type=versions_arg,
                   default=versions_arg("both"), metavar="0.3|2|both",
                   help="encrypt with this version (default both: OMEMO 2 for the "
                        "devices that have it, 0.3 for the others; one stanza per "
                        "version); the sending device itself always has both")
    p.add_argument("--to", required=True, help="recipient (bare JID)")
    body = p.add_mutually_exclusive_group(required=True)
    body.add_argument("--body")
    body.add_argument("--body-file", metavar="FILE", help="body from FILE (UTF-8; - is stdin)")
    p.add_argument("--type", default="chat", help="type attribute (default chat)")
    p.add_argument("--tamper", action="store_true",
                   help="flip a bit of the encrypted payload before sending: the "
                        "recipient must fail to decrypt it")


async def cmd_send(args):
    body = xpeer.read_body(args)
    bounces = []

    def on_message(stanza):
        if stanza.xml.get("type") == "error":
            bounces.append(stanza)

    device = await connect_device(args, args.jid, args.store,
                                  setup=lambda x: on_messages(x, on_message))
    try:
        to = JID(args.to).bare
    except InvalidJID as e:
        await logout(device.xmpp)
        raise PeerExit(EXIT_USAGE, f"invalid --to {args.to!r}: {e}")
    try:
        await encrypt_and_send(device, to, body, args)
        await barrier(device.xmpp)
    finally:
        await logout(device.xmpp)
    if bounces:
        for stanza in bounces:
            condition, _ = xpeer.stanza_error(stanza.xml)
            warn(f"message to {stanza.xml.get('from')} bounced: {condition}")
        return EXIT_REJECTED
    return EXIT_OK


async def encrypt_and_send(device, to, body, args):
    """Refresh the device lists, encrypt, send; print a "sent" record per
    stanza with the devices it was encrypted for."""
    manager = device.manager
    for ns in device.namespaces:
        for jid in {to, device.jid}:
            try:
                await manager.refresh_device_list(ns, jid)
            except omemo.DeviceListDownloadFailed as e:
                warn(f"cannot fetch the {VERSION_OF[ns]} device list of {jid}: {e}")
    plaintext = {NS_OLD: body.encode("utf-8"), NS_TWO: sce_envelope(body, device.jid)}
    try:
        messages, errors = await manager.encrypt(frozenset({to}), plaintext,
                                                 list(args.encrypt_with))
    except omemo.NoEligibleDevices as e:
        raise PeerExit(EXIT_ERROR, f"{to} has no device to encrypt for: {e}")
    for e in errors:
        warn(f"not encrypted for {e.bare_jid} device {e.device_id}: {e.exception}")
    for message in messages:
        message_stanza(device.xmpp, to, message, args.type, args.tamper).send()
        emit({"kind": "sent", "to": to, "encrypted": VERSION_OF[message.namespace],
              "sender_device": device.id,
              "recipients": sorted([k.bare_jid, k.device_id] for k, _ in message.keys),
              "tampered": args.tamper})


def add_devices_args(p):
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--of", required=True, help="whose devices (bare JID)")
    p.add_argument("--version", dest="versions", type=versions_arg,
                   default=versions_arg("both"), metavar="0.3|2|both",
                   help="which device lists (default both)")


async def cmd_devices(args):
    xmpp = await login(args, args.jid, args.password)
    try:
        for ns in args.versions:
            await print_devices(xmpp, ns, args.of)
    finally:
        await logout(xmpp)
    return EXIT_OK


async def print_devices(xmpp, ns, of):
    """A "devicelist" record (ids [] and an error when the list cannot be
    fetched: Prosody answers forbidden for an account that never published
    one), then a "device" record per listed device (fingerprint null and an
    error when its bundle is missing or bad; identity_key is the bundle's
    <identityKey/> or <ik/> text as published)."""
    version = VERSION_OF[ns]
    record = {"kind": "devicelist", "jid": of, "version": version, "ids": [], "error": None}
    try:
        record["ids"] = sorted(await fetch_device_list(xmpp, ns, of))
    except (IqError, IqTimeout) as e:
        record["error"] = iq_error_text(e)
    except (ValueError, xmlschema.XMLSchemaValidationError) as e:
        record["error"] = f"invalid device list: {e}"
    emit(record)
    ids = record["ids"]
    for device_id in ids:
        record = {"kind": "device", "jid": of, "id": device_id, "version": version,
                  "fingerprint": None, "identity_key": None, "error": None}
        try:
            element = await pep_item(xmpp, of, bundle_node(ns, device_id),
                                     bundle_item(ns, device_id))
            if element is None:
                record["error"] = "no bundle"
            else:
                key = element.find(_q(ns, "identityKey" if ns == NS_OLD else "ik"))
                record["identity_key"] = key.text if key is not None else None
                bundle = etree_of(ns).parse_bundle(element, of, device_id)
                record["fingerprint"] = fingerprint(bundle.identity_key)
        except (IqError, IqTimeout) as e:
            record["error"] = iq_error_text(e)
        except (ValueError, xmlschema.XMLSchemaValidationError) as e:
            record["error"] = f"invalid bundle: {e}"
        emit(record)


# --------------------------------------------------------------------------
# Command line

SUBCOMMANDS = {
    "publish": (add_device_args, cmd_publish, "publish this device; print its record"),
    "recv": (add_recv_args, cmd_recv, "publish, then print received messages, decrypted"),
    "send": (add_send_args, cmd_send, "send an OMEMO-encrypted message"),
    "devices": (add_devices_args, cmd_devices, "print a JID's devices and fingerprints"),
}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Independent OMEMO peer for the xmpptools tests.",
        epilog="See the module docstring for the records and exit codes.")
    xpeer.add_connection_args(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for name, (add_args, _, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        xpeer.add_connection_args(p, suppress=True)
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
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if OMEMO_MISSING is not None:
        warn(f"{OMEMO_MISSING}: install python3-omemo python3-oldmemo python3-twomemo "
             "python3-xmlschema")
        return EXIT_ERROR
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format=f"{PROG} %(levelname)s %(name)s: %(message)s")
    if not args.debug:
        # The library logs expected failures (a tampered message) as warnings.
        for name in ("omemo", "oldmemo", "twomemo", "xmlschema"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return asyncio.run(run(args))
    except PeerExit as e:
        if e.message:
            warn(f"{args.command}: {e.message}")
        return e.code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""fakeserver -- a misbehaving XMPP server for the xmpptools fault tests.

It listens on 127.0.0.1 (a free port unless --port is given), writes the port
number to --port-file once it is listening, and then serves every connection
in the chosen --mode until it is killed:

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

With --log FILE every byte received from clients is appended to FILE (so a
test can check, for example, that a client never sent its password to a
server that did not offer TLS).

Only the standard library is used, so any Python 3 works. To add a mode, write
an ``async def mode_NAME(conn, arg)`` coroutine and add it to MODES.
"""

import argparse
import asyncio
import os
import re
import sys

NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"

# The opening tag of the client's stream header (possibly after an XML
# declaration). DOTALL: attributes may be spread over several lines.
STREAM_HEADER_RE = re.compile(rb"<(?:[A-Za-z0-9_.-]+:)?stream\b[^>]*>", re.DOTALL)
TO_ATTR_RE = re.compile(rb"""\bto\s*=\s*(['"])([^'"]*)\1""")
STARTTLS_RE = re.compile(rb"<starttls\b[^>]*>")

# Not XML in any way: text before any element (what a web server would say),
# then NUL and other control bytes, invalid UTF-8 and broken markup.
GARBAGE = b"HTTP/1.1 400 Bad Request\r\n\r\n\x00\x01\xff\xfe<<<&&&>>>\x7f\x80\n"


class Conn:
    """One accepted client connection, with a receive buffer and the log."""

    def __init__(self, reader, writer, log):
        self.reader = reader
        self.writer = writer
        self.log = log
        self.buf = b""

    async def read_some(self):
        """Read what is available into the buffer; False at end of file."""
        data = await self.reader.read(65536)
        if self.log is not None and data:
            self.log.write(data)
            self.log.flush()
        self.buf += data
        return bool(data)

    async def read_until(self, regex):
        """Read until regex matches the buffer; return the match (None at EOF).

        The buffer is consumed up to the end of the match.
        """
        while True:
            m = regex.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if not await self.read_some():
                return None

    async def discard_until_eof(self):
        while await self.read_some():
            self.buf = b""

    async def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.writer.write(data)
        await self.writer.drain()

    async def stream_header(self):
        """Wait for the client's stream header, answer with our own.

        Returns False when the client went away first.
        """
        m = await self.read_until(STREAM_HEADER_RE)
        if m is None:
            return False
        to = TO_ATTR_RE.search(m.group(0))
        domain = to.group(2).decode("utf-8", "replace") if to else "localhost"
        await self.send(
            "<?xml version='1.0'?>"
            "<stream:stream xmlns='jabber:client'"
            " xmlns:stream='http://etherx.jabber.org/streams'"
            f" id='fake-stream' from='{domain}' version='1.0' xml:lang='en'>"
        )
        return True


async def mode_silent(conn, _arg):
    await conn.discard_until_eof()


async def mode_close(_conn, _arg):
    pass  # the caller closes the connection


async def mode_garbage(conn, _arg):
    if await conn.read_some():
        await conn.send(GARBAGE)
        await conn.discard_until_eof()


async def mode_no_starttls(conn, _arg):
    if not await conn.stream_header():
        return
    await conn.send(
        "<stream:features>"
        f"<mechanisms xmlns='{NS_SASL}'><mechanism>PLAIN</mechanism></mechanisms>"
        "</stream:features>"
    )
    await conn.discard_until_eof()


async def mode_stall_tls(conn, _arg):
    if not await conn.stream_header():
        return
    await conn.send(
        f"<stream:features><starttls xmlns='{NS_TLS}'><required/></starttls>"
        "</stream:features>"
    )
    if await conn.read_until(STARTTLS_RE) is None:
        return
    await conn.send(f"<proceed xmlns='{NS_TLS}'/>")
    await conn.discard_until_eof()  # the ClientHello goes unanswered


async def mode_stream_error(conn, condition):
    if not await conn.stream_header():
        return
    await conn.send(
        f"<stream:error><{condition} xmlns='{NS_STREAMS}'/></stream:error>"
        "</stream:stream>"
    )


# mode name -> (handler, whether it takes a ":ARG")
MODES = {
    "silent": (mode_silent, False),
    "close": (mode_close, False),
    "garbage": (mode_garbage, False),
    "no-starttls": (mode_no_starttls, False),
    "stall-tls": (mode_stall_tls, False),
    "stream-error": (mode_stream_error, True),
}


def parse_mode(text):
    name, sep, arg = text.partition(":")
    if name not in MODES:
        raise argparse.ArgumentTypeError(
            f"unknown mode {name!r} (known: {', '.join(sorted(MODES))})")
    handler, wants_arg = MODES[name]
    if wants_arg and not re.fullmatch(r"[a-z][a-z-]*", arg):
        raise argparse.ArgumentTypeError(f"mode {name} needs :CONDITION (e.g. {name}:conflict)")
    if not wants_arg and sep:
        raise argparse.ArgumentTypeError(f"mode {name} takes no argument")
    return handler, arg


async def serve(args):
    handler, arg = args.mode
    log = open(args.log, "ab") if args.log else None

    async def on_client(reader, writer):
        try:
            await handler(Conn(reader, writer, log), arg)
        except (ConnectionError, OSError):
            pass  # the client went away: nothing to report
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
    args = p.parse_args()
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

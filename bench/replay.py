#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""replay.py -- the fake server of the test suite, replaying a captured stream.

    replay.py --stream FILE --count N [FAKESERVER-OPTION...]

It is tests/peer/fakeserver.py (imported, not copied: the same login, the
same answers, its options after ours) with one change: after each initial
presence it pushes N messages, cycling through the stanzas of FILE (one per
line, as `xlisten -X` printed them), each with an id of its own. The N
messages are built once, before the server listens, and written in large
chunks, so that serving them costs the server little next to the client
that parses and prints them (bench/xlisten.sh).
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "peer"))
import fakeserver  # noqa: E402  (the path above first)

CHUNK = 1 << 20
ID_ATTR = re.compile(r"""\sid=(["'])[^"']*\1""")
NAME = re.compile(r"(<[A-Za-z][\w:.-]*)(.*)\Z", re.S)


def build(path, count):
    """COUNT messages as bytes: the stanzas of PATH in turn, the id of each
    replaced (or added) with one that counts."""
    with open(path, encoding="utf-8") as f:
        stanzas = [line.strip() for line in f if line.strip()]
    if not stanzas:
        sys.exit("replay.py: no stanza in %s" % path)
    templates = []
    for s in stanzas:
        tag, gt, rest = s.partition(">")  # the id of the stanza, not a child's
        m = NAME.match(ID_ATTR.sub("", tag, count=1) + gt + rest)
        if m is None:
            sys.exit("replay.py: not a stanza: %.60s" % s)
        templates.append((m.group(1) + " id='r", "'" + m.group(2)))
    parts = []
    for i in range(count):
        head, tail = templates[i % len(templates)]
        parts.append("%s%d%s" % (head, i, tail))
    return "".join(parts).encode("utf-8")


class Replay(fakeserver.Session):
    blob = b""

    async def push(self):
        for i in range(0, len(self.blob), CHUNK):
            await self.conn.send(self.blob[i:i + CHUNK])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stream", required=True, help="the captured stanzas, one a line")
    p.add_argument("--count", type=int, required=True, help="messages per login")
    args, rest = p.parse_known_args()
    Replay.blob = build(args.stream, args.count)
    fakeserver.Session = Replay
    sys.argv = [sys.argv[0], "--push", *rest]
    return fakeserver.main()


if __name__ == "__main__":
    sys.exit(main())

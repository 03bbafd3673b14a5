#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""measure -- run a command, then report its exit status, wall and CPU time.

    measure.py --report FILE -- COMMAND [ARGS...]

The command inherits stdin, stdout and stderr. When it ends, FILE gets one
line "RC WALL_MS CPU_MS": its exit status (128+N when killed by signal N),
the wall time from start to end and its user+system CPU time (its own and
that of the children it waited for), both in milliseconds. measure.py exits
with the command's status, so it can stand in for the command.
"""

import argparse
import os
import signal
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--report", required=True, help="write RC WALL_MS CPU_MS here")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        p.error("no command")
    t0 = time.monotonic()
    try:
        pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    except OSError as e:
        print(f"measure: {cmd[0]}: {e.strerror}", file=sys.stderr)
        return 127
    # A signal for us (the test's timeout) is passed on to the command.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda n, _f: os.kill(pid, n))
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    wall = (time.monotonic() - t0) * 1000
    cpu = (usage.ru_utime + usage.ru_stime) * 1000
    rc = os.waitstatus_to_exitcode(status)
    if rc < 0:
        rc = 128 - rc
    with open(args.report, "w") as f:
        f.write(f"{rc} {wall:.0f} {cpu:.0f}\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())

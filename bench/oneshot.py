#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""oneshot.py -- the arithmetic of bench/oneshot.sh (not meant to be run alone).

Every figure bench/oneshot.sh collects is appended as one JSON object per
line to OUT/results.jsonl; `report` turns that file into Markdown.

    oneshot.py latency OUT TOOL METHOD SOURCE   hyperfine JSON or a file of ms
    oneshot.py rss OUT TOOL FILE                one peak RSS (KiB) per line
    oneshot.py delivery OUT TOOL BOBLOG SENT    count what the peer received
    oneshot.py record OUT JSON                  append a ready-made record
    oneshot.py phases OUT RUNS CMD...           xsend -vv, time-stamped lines
    oneshot.py callgrind OUT RUN FILE           callgrind_annotate summary
    oneshot.py report OUT                       Markdown on stdout
    oneshot.py table OUT                        only the table of ratios
"""

import json
import os
import re
import statistics
import subprocess
import sys
import time


def append(out, record):
    with open(os.path.join(out, "results.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def load(out):
    path = os.path.join(out, "results.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def summary(values):
    """median, p90, min, max, mean, sd of a list of numbers."""
    v = sorted(values)
    if not v:
        return None
    p90 = statistics.quantiles(v, n=10, method="inclusive")[8] if len(v) > 1 else v[0]
    return {
        "n": len(v),
        "median": statistics.median(v),
        "p90": p90,
        "min": v[0],
        "max": v[-1],
        "mean": statistics.fmean(v),
        "sd": statistics.stdev(v) if len(v) > 1 else 0.0,
    }


# ---------------------------------------------------------------------------
# collecting


def cmd_latency(out, tool, method, source):
    if method == "hyperfine":
        with open(source, encoding="utf-8") as f:
            data = json.load(f)
        result = data["results"][0]
        times = [t * 1000 for t in result["times"]]
        codes = sorted(set(result.get("exit_codes") or []))
    else:
        with open(source, encoding="utf-8") as f:
            times = [float(line) for line in f if line.strip()]
        codes = [0]
    append(out, {"kind": "latency", "tool": tool, "method": method,
                 "times_ms": times, "exit_codes": codes})


def cmd_rss(out, tool, source):
    with open(source, encoding="utf-8") as f:
        kib = [int(line) for line in f if line.strip()]
    append(out, {"kind": "rss", "tool": tool, "kib": kib})


def cmd_delivery(out, tool, boblog, sent):
    """Messages whose body is 'bench TOOL N' (surrounding white space
    ignored: sendxmpp adds a newline)."""
    pattern = re.compile(r"bench %s (\d+)" % re.escape(tool))
    numbers = []
    with open(boblog, encoding="utf-8") as f:
        for line in f:
            try:
                body = (json.loads(line).get("body") or "").strip()
            except ValueError:
                continue
            m = pattern.fullmatch(body)
            if m:
                numbers.append(int(m.group(1)))
    append(out, {"kind": "delivery", "tool": tool, "sent": int(sent),
                 "received": len(numbers), "distinct": len(set(numbers))})


# The steps of one xsend login, as xsend -vv reports them, in order. Each
# phase ends at its marker; the first starts when the process is spawned,
# the last ("exit") ends when it has exited.
PHASES = [
    ("connecting to", "start: exec, dynamic linking, config file"),
    ("RECV: <features", "TCP connect, stream header and features (1 RTT)"),
    ("SENT: <starttls", "libstrophe's trial TLS context (loads the system CA store)"),
    ("RECV: <proceed", "STARTTLS round trip"),
    ("SENT: <?xml", "TLS context again (CA store again) + TLS 1.3 handshake (1 RTT)"),
    ("RECV: <features", "stream restart after TLS (1 RTT)"),
    ("SENT: <auth", "SCRAM client-first message"),
    ("RECV: <challenge", "SASL round trip 1 (server-first)"),
    ("SENT: <response", "SCRAM proof: PBKDF2-SHA-1, 10000 iterations, in libstrophe"),
    ("RECV: <success", "SASL round trip 2 (server checks the proof)"),
    ("online as", "stream restart + resource bind (2 RTT)"),
    ("the server confirmed", "message + XEP-0199 ping round trip"),
    ("RECV: </stream:stream>", "closing the stream (1 RTT)"),
    (None, "clean-up and exit"),
]


def cmd_phases(out, runs, argv):
    """Each run of ARGV (with -vv) is followed by one without -vv, for the
    cost of the logging under the same load."""
    all_runs, plain = [], []
    quiet = [a for a in argv if a != "-vv"]
    for _ in range(runs):
        t0 = time.monotonic()
        if subprocess.run(quiet, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            plain.append((time.monotonic() - t0) * 1000)
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        lines = []
        for raw in proc.stderr:
            lines.append((time.monotonic() - t0, raw.decode("utf-8", "replace")))
        rc = proc.wait()
        t_end = time.monotonic() - t0
        if rc != 0:
            sys.exit("phases: %s exited %d:\n%s" % (argv[0], rc,
                                                    "".join(line for _, line in lines)))
        marks = []
        i = 0
        for needle, _label in PHASES[:-1]:
            while i < len(lines) and needle not in lines[i][1]:
                i += 1
            if i == len(lines):
                sys.exit("phases: no line with %r in xsend -vv output" % needle)
            marks.append(lines[i][0])
            i += 1
        marks.append(t_end)
        durations, prev = [], 0.0
        for t in marks:
            durations.append((t - prev) * 1000)
            prev = t
        all_runs.append(durations)
    append(out, {"kind": "phases", "labels": [label for _, label in PHASES],
                 "runs_ms": all_runs, "plain_ms": plain})


ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\*\s+)?(.*?)(?:\s+\[(.+)\])?\s*$")
CALLER_LINE = re.compile(r"^\s*[\d,]+\s+\(\s*[\d.]+%\)\s+<\s+.*\((\d[\d,]*)x\)")


def annotate(path, *options):
    text = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", *options, path],
                          check=True, capture_output=True, text=True).stdout
    rows = []
    for line in text.splitlines():
        m = ANNOTATE_LINE.match(line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), m.group(3), m.group(4) or "?"))
    total = re.search(r"^\s*([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", text, re.M)
    return int(total.group(1).replace(",", "")), rows, text


def calls_to(tree_text, func):
    """Sum of the call counts of FUNC's callers in --tree=caller output."""
    n, callers = 0, []
    for line in tree_text.splitlines():
        if CALLER_LINE.match(line):
            callers.append(int(CALLER_LINE.match(line).group(1).replace(",", "")))
            continue
        m = ANNOTATE_LINE.match(line)
        if m and m.group(2) and m.group(3).endswith(func):
            n += sum(callers)
        if not line.strip() or (m and m.group(2)):
            callers = []
    return n


def self_cost_by_object(path):
    """Exclusive Ir per object file, read from a callgrind.out file: each
    cost line counts for the object of the current fn=, except the line
    after calls=, which is the inclusive cost of that call."""
    names = {}          # compressed "(id)" -> name, per kind
    ob = fn_ob = None
    after_calls = False
    npos = 1
    costs = {}

    def name(kind, rest):
        m = re.match(r"\((\d+)\)(?: (.*))?$", rest)
        if not m:
            return rest
        if m.group(2) is not None:
            names[(kind, m.group(1))] = m.group(2)
        return names.get((kind, m.group(1)), rest)

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("positions:"):
                npos = len(line.split()) - 1
            elif line.startswith("ob="):
                ob = name("ob", line[3:])
            elif line.startswith("fn="):
                fn_ob = ob
            elif line.startswith("cob="):
                name("ob", line[4:])
            elif line.startswith("calls="):
                after_calls = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                if after_calls:
                    after_calls = False
                    continue
                fields = line.split()
                if len(fields) > npos:
                    key = os.path.basename(fn_ob or "?")
                    costs[key] = costs.get(key, 0) + int(fields[npos])
    return costs


def cmd_callgrind(out, run, path):
    total, excl, _ = annotate(path)
    _, incl, _ = annotate(path, "--inclusive=yes")
    _, _, tree = annotate(path, "--tree=caller")
    by_object = self_cost_by_object(path)

    def inclusive(func):
        for ir, f, _obj in incl:
            if f.endswith(func):
                return ir
        return None

    # libstrophe ships without symbols: its hottest function is named by
    # address; its call count identifies it (see RESULTS.md).
    hot = max((row for row in excl if "libstrophe" in row[2]), default=None)
    hot_rec = None
    if hot:
        hot_rec = {"function": hot[1], "ir": hot[0], "calls": calls_to(tree, hot[1])}
    append(out, {
        "kind": "callgrind", "run": int(run), "total": total,
        "by_object": by_object,
        "inclusive": {
            "main (xsend.c)": inclusive("xsend.c:main"),
            "SSL_CTX_set_default_verify_paths": inclusive(":SSL_CTX_set_default_verify_paths"),
            "SSL_connect": inclusive(":SSL_connect"),
            "xmpp_run_once": inclusive(":xmpp_run_once"),
        },
        "default_verify_paths_calls": calls_to(tree, ":SSL_CTX_set_default_verify_paths"),
        "libstrophe_hottest": hot_rec,
        "top_inclusive": [[ir, f, os.path.basename(o)] for ir, f, o in incl[:25]],
        "top_exclusive": [[ir, f, os.path.basename(o)] for ir, f, o in excl[:25]],
    })


def cmd_record(out, text):
    append(out, json.loads(text))


# ---------------------------------------------------------------------------
# report


def ms(x):
    return "%.1f" % x if x < 100 else "%.0f" % x


def ratio(x, base):
    if base is None or base <= 0:
        return "–"
    r = x / base
    return "%.2f×" % r if r < 10 else ("%.1f×" % r if r < 100 else "%.0f×" % r)


def ratio_table(recs):
    """Every tool side by side: median wall time, and its ratio to the
    minimal libstrophe client and to /bin/true measured in the same run."""
    tools = []
    for r in recs:
        if r["kind"] in ("latency", "how") and r["tool"] not in tools:
            tools.append(r["tool"])

    def find(kind, tool):
        return next((r for r in recs if r["kind"] == kind and r["tool"] == tool), None)

    def median_of(tool):
        lat = find("latency", tool)
        return statistics.median(lat["times_ms"]) if lat and lat["times_ms"] else None

    floor, start = median_of("minimal"), median_of("true")
    p = print
    p("| tool | how | runs | median ms | p90 ms | × minimal | × /bin/true "
      "| peak RSS MiB | delivered / sent |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for tool in tools:
        how = (find("how", tool) or {}).get("text", "")
        lat, rss, dl = find("latency", tool), find("rss", tool), find("delivery", tool)
        s = summary(lat["times_ms"]) if lat else None
        if s is None:
            gone = "not built" if how.startswith("not built") else "failed"
            p("| %s | %s | 0 | %s | – | – | – | – | – |" % (tool, how, gone))
            continue
        cells = [tool, how, str(s["n"]), ms(s["median"]), ms(s["p90"]),
                 ratio(s["median"], floor), ratio(s["median"], start)]
        cells.append("%.1f" % (statistics.median(rss["kib"]) / 1024) if rss and rss["kib"]
                     else "–")
        if dl is None:
            cells.append("– (sends no message)")
        else:
            lost = dl["sent"] - dl["distinct"]
            cell = "%d / %d" % (dl["received"], dl["sent"])
            if lost > 0:
                cell += " (**%d lost**)" % lost
            if dl["distinct"] != dl["received"]:
                cell += " (%d duplicates)" % (dl["received"] - dl["distinct"])
            cells.append(cell)
        p("| " + " | ".join(cells) + " |")


def table(out):
    recs = load(out)
    machine = next((r for r in recs if r["kind"] == "machine"), {})
    end = next((r for r in recs if r["kind"] == "machine_end"), {})
    print("`%s`, %s; load average %s, at the end %s." % (
        machine.get("command", "?"), machine.get("date", "?"), machine.get("load", "?"),
        end.get("load", "?")))
    print()
    print("Machine: %s, %s CPUs, %s; Prosody %s, libstrophe %s, OpenSSL %s; %s; %s." % tuple(
        machine.get(k, "?") for k in ("cpu", "nproc", "kernel", "prosody", "libstrophe",
                                      "openssl", "xsend", "tools")))
    print()
    ratio_table(recs)
    checks = [r for r in recs if r["kind"] == "badca"]
    if checks:
        print()
        print("Certificate check, one send trusting only the system CAs: " + "; ".join(
            "%s exit %s, delivered %s" % (r["tool"], r["exit"], r["delivered"])
            for r in checks) + ".")
    notes = [r["text"] for r in recs if r["kind"] == "note"]
    if notes:
        print()
        for t in notes:
            print("- note: " + t)


def report(out):
    recs = load(out)
    machine = next((r for r in recs if r["kind"] == "machine"), {})
    p = print
    p("## One-shot send (bench/oneshot.sh)")
    p()
    for key in ("date", "command", "cpu", "nproc", "kernel", "load", "prosody", "libstrophe",
                "openssl", "hyperfine", "valgrind", "xsend", "tools"):
        if key in machine:
            p("- %s: %s" % (key, machine[key]))
    end = next((r for r in recs if r["kind"] == "machine_end"), None)
    if end:
        p("- load at the end: %s" % end["load"])
    p()
    p("### Wall time per message (ms) and peak RSS")
    p()
    p("| tool | how it was run | runs | median | p90 | min | max | mean ± sd "
      "| peak RSS MiB (median / max) | delivered / sent | exit |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    tools = []
    for r in recs:
        if r["kind"] in ("latency", "rss", "delivery", "how") and r["tool"] not in tools:
            tools.append(r["tool"])
    for tool in tools:
        lat = next((r for r in recs if r["kind"] == "latency" and r["tool"] == tool), None)
        rss = next((r for r in recs if r["kind"] == "rss" and r["tool"] == tool), None)
        dl = next((r for r in recs if r["kind"] == "delivery" and r["tool"] == tool), None)
        how = next((r for r in recs if r["kind"] == "how" and r["tool"] == tool), {})
        s = summary(lat["times_ms"]) if lat else None
        cells = [tool, how.get("text", "")]
        if s:
            cells += [str(s["n"]), ms(s["median"]), ms(s["p90"]), ms(s["min"]), ms(s["max"]),
                      "%s ± %s" % (ms(s["mean"]), ms(s["sd"]))]
        else:
            cells += ["0", "–", "–", "–", "–", "–"]
        if rss and rss["kib"]:
            cells.append("%.1f / %.1f" % (statistics.median(rss["kib"]) / 1024,
                                          max(rss["kib"]) / 1024))
        else:
            cells.append("–")
        if dl:
            extra = "" if dl["distinct"] == dl["received"] else " (%d distinct)" % dl["distinct"]
            cells.append("%d / %d%s" % (dl["received"], dl["sent"], extra))
        else:
            cells.append("–")
        cells.append(how.get("exit", ",".join(map(str, lat["exit_codes"])) if lat else "–"))
        p("| " + " | ".join(cells) + " |")
    p()
    p("### Side by side: × the minimal libstrophe client, × /bin/true")
    p()
    ratio_table(recs)
    p()
    checks = [r for r in recs if r["kind"] == "badca"]
    if checks:
        p("### Does it verify the certificate? (one send trusting only the system CAs)")
        p()
        p("| tool | run as | exit status | delivered |")
        p("|---|---|---:|---:|")
        for r in checks:
            p("| %s | %s | %s | %s |" % (r["tool"], r["how"], r["exit"], r["delivered"]))
        p()
    ph = next((r for r in recs if r["kind"] == "phases"), None)
    if ph:
        n = len(ph["runs_ms"])
        p("### Where one xsend run spends its time (xsend -vv, %d runs, ms)" % n)
        p()
        p("| phase ends with | what | median | min | max |")
        p("|---|---|---:|---:|---:|")
        totals = [sum(run) for run in ph["runs_ms"]]
        for i, label in enumerate(ph["labels"]):
            col = [run[i] for run in ph["runs_ms"]]
            mark = PHASES[i][0] or "exit"
            p("| `%s` | %s | %.1f | %.1f | %.1f |" % (mark, label, statistics.median(col),
                                                     min(col), max(col)))
        p("| | total (with -vv) | %.1f | %.1f | %.1f |" % (statistics.median(totals),
                                                         min(totals), max(totals)))
        if ph.get("plain_ms"):
            pl = ph["plain_ms"]
            p("| | the same without -vv, interleaved (%d runs) | %.1f | %.1f | %.1f |"
              % (len(pl), statistics.median(pl), min(pl), max(pl)))
        p()
    cgs = [r for r in recs if r["kind"] == "callgrind"]
    if cgs:
        p("### Instructions of one xsend run (valgrind --tool=callgrind)")
        p()
        p("| | " + " | ".join("run %d" % r["run"] for r in cgs) + " |")
        p("|---|" + "---:|" * len(cgs))

        def cell(v, total):
            return "–" if v is None else "{:,} ({:.1f}%)".format(v, 100 * v / total)

        p("| **total Ir** | " + " | ".join("{:,}".format(r["total"]) for r in cgs) + " |")
        objs = sorted(cgs[0]["by_object"], key=lambda k: -cgs[0]["by_object"][k])
        for o in objs:
            p("| self: %s | " % o + " | ".join(cell(r["by_object"].get(o, 0), r["total"])
                                              for r in cgs) + " |")
        for key in cgs[0]["inclusive"]:
            p("| inclusive: %s | " % key + " | ".join(cell(r["inclusive"].get(key), r["total"])
                                                     for r in cgs) + " |")
        p("| calls of SSL_CTX_set_default_verify_paths | " + " | ".join(
            str(r["default_verify_paths_calls"]) for r in cgs) + " |")
        hot = [r.get("libstrophe_hottest") or {} for r in cgs]
        p("| libstrophe's hottest function (no symbols), self | " + " | ".join(
            "%s: %s, %s calls" % (h.get("function", "?").split(":")[-1],
                                  cell(h.get("ir"), r["total"]), "{:,}".format(h.get("calls", 0)))
            for h, r in zip(hot, cgs)) + " |")
        p()
    notes = [r["text"] for r in recs if r["kind"] == "note"]
    if notes:
        p("### Notes from the run")
        p()
        for t in notes:
            p("- " + t)
        p()


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, out, args = argv[1], argv[2], argv[3:]
    if cmd == "latency":
        cmd_latency(out, *args)
    elif cmd == "rss":
        cmd_rss(out, *args)
    elif cmd == "delivery":
        cmd_delivery(out, *args)
    elif cmd == "record":
        cmd_record(out, *args)
    elif cmd == "phases":
        cmd_phases(out, int(args[0]), args[1:])
    elif cmd == "callgrind":
        cmd_callgrind(out, *args)
    elif cmd == "report":
        report(out)
    elif cmd == "table":
        table(out)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

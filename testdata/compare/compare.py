#!/usr/bin/env python3
"""`make compare`: ehlo's sending speed beside other SMTP clients, in one run.

Run through run.sh, which installs what is missing and builds the programs:

    bash testdata/compare/run.sh [options]        (as root on a fresh Debian 12)

Set-ups, each on loopback (127.0.0.1) only:

  loopback  Postfix's smtp-sink, as fast as the kernel allows.
  delayed   ehlo's sandbox behind testdata/compare/latency, a proxy that holds
            every reply DELAY (5 ms) before passing it on. smtp-sink cannot
            wait less than a second (-w, -W take whole seconds) and offers no
            CHUNKING; `tc netem` needs the sch_netem kernel module, which the
            machine this was written on lacks. The sandbox offers PIPELINING
            and CHUNKING, and the proxy adds the same delay for every client.

Clients: `ehlo send --repeat` (pipelining with CHUNKING where offered, with
DATA, and one command at a time), Postfix's smtp-source (-d: one
connection), Python's smtplib (one connection), a go-smtp client (one
connection), and swaks, one process per message as people use it.

Each client sends the same message of about 1 KB, RUNS times (the runs of
the different clients interleaved), and the median is reported: wall time
of the whole process (start-up, connection and QUIT included) and its CPU
(user + system, from wait4, so children count). The targets of the
performance issue are checked at the end, then peak memory for a 100 MB
message and `ehlo version` start-up time (hyperfine).

The server table turns it around: Postfix's smtp-source sends 1 KiB
messages (-l 1024) with 1 and with 8 sessions (-s), a new connection per
message and over persistent connections (-d), into ehlo's sandbox (with
--quiet, and with its log sent to /dev/null), smtp-sink and aiosmtpd (the
Sink handler). Messages per second come from smtp-source's wall time, the
server's CPU from /proc/PID/stat before and after, its thread switches
from /proc/PID/task/*/status, and "client busy" is smtp-source's CPU over
its wall time: near 100%, the client set the rate, not the server.
`--only server` runs this table alone.

Results also go to OUT/results.json and OUT/results.md.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
FROM = "sender@example.com"
TO = "rcpt@example.com"
HELO = "client.example.com"


def log(msg):
    print(f"compare: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def measure(cmds, stdin_path=None, env=None):
    """Runs cmds one after another; returns wall seconds, CPU seconds and the
    largest peak RSS (KiB), all from the processes themselves (wait4)."""
    cpu = 0.0
    rss = 0
    start = time.perf_counter()
    for cmd in cmds:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        finally:
            if stdin_path:
                stdin.close()
        # wait4 gives this child's own rusage; read stderr in the meantime
        # only if it is small, which it is for every client here.
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stderr.close()
        cpu += ru.ru_utime + ru.ru_stime
        rss = max(rss, ru.ru_maxrss)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - start, cpu, rss


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def banner(port, timeout=15.0):
    """The first line the server at port says, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=3) as s:
                f = s.makefile("rb")
                line = f.readline().decode(errors="replace").strip()
                s.sendall(b"QUIT\r\n")
                return line
        except OSError:
            time.sleep(0.05)
    return None


class Servers:
    """Background processes, stopped (by their own pid) on exit."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)


def start_smtp_sink(servers):
    for _ in range(5):
        port = free_port()
        cmd = ["smtp-sink"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        cmd += [f"{HOST}:{port}", "256"]
        p = servers.start(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b = banner(port, 5)
        if b and "smtp-sink" in b:
            return port
        servers.stop(p)
    raise RuntimeError("smtp-sink did not start")


def start_sandbox(servers, ehlo, faults=()):
    for _ in range(5):
        port = free_port()
        cmd = [ehlo, "sandbox", "--listen", f"{HOST}:{port}", "--tls-listen", "-"]
        for f in faults:
            cmd += ["--fault", f]
        p = servers.start(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b = banner(port, 10)
        if b and "ehlo sandbox" in b:
            return port
        servers.stop(p)
    raise RuntimeError("the ehlo sandbox did not start")


def start_latency(servers, latency, target_port, delay):
    p = servers.start([latency, "-listen", f"{HOST}:0", "-target", f"{HOST}:{target_port}", "-delay", delay],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    m = re.match(r"listening on [\d.]+:(\d+)", line)
    if not m:
        raise RuntimeError(f"latency proxy did not start: {line!r}")
    port = int(m.group(1))
    if not banner(port, 5):
        raise RuntimeError("no greeting through the latency proxy")
    return port


def reply_delay(port, n=40):
    """Median time from a NOOP written to its reply read, in ms."""
    with socket.create_connection((HOST, port), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            s.sendall(b"NOOP\r\n")
            f.readline()
            times.append(time.perf_counter() - t)
        s.sendall(b"QUIT\r\n")
    return statistics.median(times) * 1000


# ---------------------------------------------------------------- clients

def clients(args, msg, msg_lf, port, n, n_swaks):
    """(name, key, messages, commands) for every client against port."""
    addr = f"{HOST}:{port}"
    ehlo = [args.ehlo, "send", addr, "--from", FROM, "--to", TO, "--helo", HELO, "--data", "@" + msg,
            "--repeat", str(n)]
    return [
        ("ehlo send --repeat --chunking", "ehlo", n, [ehlo + ["--chunking"]]),
        ("ehlo send --repeat (pipelining, DATA)", "ehlo-pipe", n, [ehlo]),
        # Groups never past the message: each transaction waits for the
        # replies of the one before (RFC 2920 read as narrowly as it goes).
        ("ehlo send --repeat --chunking --pipeline-depth 1", "ehlo-depth1", n,
         [ehlo + ["--chunking", "--pipeline-depth", "1"]]),
        ("ehlo send --repeat --no-pipeline", "ehlo-nopipe", n, [ehlo + ["--no-pipeline"]]),
        ("smtp-source -d (Postfix)", "smtp-source", n,
         [["smtp-source", "-d", "-s", "1", "-m", str(n), "-F", msg_lf, "-f", FROM, "-t", TO, "-M", HELO, addr]]),
        ("Python smtplib", "smtplib", n,
         [[args.python, os.path.join(args.here, "smtplib_send.py"), HOST, str(port), str(n), msg, FROM, TO]]),
        ("go-smtp v0.25.1 client", "go-smtp", n,
         [[args.gosmtp, "-addr", addr, "-n", str(n), "-data", msg, "-from", FROM, "-to", TO, "-helo", HELO]]),
        ("swaks, one process per message", "swaks", n_swaks,
         [["swaks", "--server", HOST, "--port", str(port), "--from", FROM, "--to", TO, "--helo", HELO,
           "--data", "@" + msg]] * n_swaks),
    ]


def run_setup(name, args, msg, msg_lf, port, n, n_swaks):
    todo = clients(args, msg, msg_lf, port, n, n_swaks)
    if args.only:
        todo = [c for c in todo if c[1] in args.only]
    samples = {c[1]: [] for c in todo}
    for r in range(args.runs):
        for title, key, count, cmds in todo:
            wall, cpu, _ = measure(cmds)
            samples[key].append((wall, cpu))
            log(f"{name} run {r + 1}/{args.runs}: {title}: {count} in {wall:.3f} s, CPU {cpu * 1000:.0f} ms")
    rows = []
    for title, key, count, _ in todo:
        wall = statistics.median(s[0] for s in samples[key])
        cpu = statistics.median(s[1] for s in samples[key])
        rows.append({"tool": title, "key": key, "messages": count, "wall_s": wall, "msgs_per_s": count / wall,
                     "cpu_ms": cpu * 1000, "cpu_us_per_msg": cpu / count * 1e6,
                     "runs": [{"wall_s": w, "cpu_s": c} for w, c in samples[key]]})
    by = {r["key"]: r for r in rows}
    for r in rows:
        for ref in ("smtp-source", "smtplib"):
            if ref in by:
                r["x_" + ref] = r["msgs_per_s"] / by[ref]["msgs_per_s"]
    return rows


# ---------------------------------------------------------------- servers

def proc_cpu(pid):
    """CPU seconds (user + system) the process pid has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_switches(pid):
    """Thread switches (voluntary and not) of every thread of pid so far.
    Threads that ended are not counted; none of the servers here ends one."""
    n = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
        except FileNotFoundError:
            pass
    return n


def server_cmds(args):
    """(title, key, command with {addr}, greeting word) of every server in the
    server table. Each one's log goes to /dev/null."""
    sink = ["smtp-sink"] + (["-u", "nobody"] if os.geteuid() == 0 else []) + ["{addr}", "256"]
    return [
        ("ehlo sandbox --quiet", "sandbox-quiet",
         [args.ehlo, "sandbox", "--listen", "{addr}", "--tls-listen", "-", "--quiet"], "ehlo sandbox"),
        ("ehlo sandbox (log to /dev/null)", "sandbox",
         [args.ehlo, "sandbox", "--listen", "{addr}", "--tls-listen", "-"], "ehlo sandbox"),
        ("smtp-sink (Postfix)", "smtp-sink", sink, "smtp-sink"),
        ("aiosmtpd (Sink handler)", "aiosmtpd",
         [args.python, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", "{addr}"], "Python SMTP"),
    ]


def start_server(servers, cmd, word):
    for _ in range(5):
        port = free_port()
        addr = f"{HOST}:{port}"
        p = servers.start([c.replace("{addr}", addr) for c in cmd],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b = banner(port, 10)
        if b and word in b:
            return p, port
        servers.stop(p)
    raise RuntimeError(f"{cmd[0]} did not start")


def server_table(args, servers):
    """smtp-source -s S -m N -l 1024 into each server, with a new connection
    per message and over S persistent connections (-d): the server's own CPU
    (from /proc/PID/stat, before and after) and the client's wall time."""
    todo = server_cmds(args)
    if args.servers:
        todo = [t for t in todo if t[1] in args.servers]
    modes = [(s, d) for s in (1, 8) for d in (False, True)]
    running = {}
    for title, key, cmd, word in todo:
        running[key] = start_server(servers, cmd, word)
    samples = {}
    n = args.server_messages
    for r in range(args.runs):
        for sessions, persistent in modes:
            for title, key, _, _ in todo:
                p, port = running[key]
                cmd = ["smtp-source", "-s", str(sessions), "-m", str(n), "-l", "1024", "-f", FROM, "-t", TO,
                       "-M", HELO] + (["-d"] if persistent else []) + [f"{HOST}:{port}"]
                before, sw = proc_cpu(p.pid), proc_switches(p.pid)
                wall, client, _ = measure([cmd])
                cpu, sw = proc_cpu(p.pid) - before, proc_switches(p.pid) - sw
                samples.setdefault((key, sessions, persistent), []).append((wall, cpu, sw, client))
                log(f"server run {r + 1}/{args.runs}: {title}, {sessions} session(s)"
                    f"{', persistent' if persistent else ''}: {n / wall:.0f} msgs/s, "
                    f"server CPU {cpu / n * 1e6:.0f} µs/msg, {sw / n:.2f} switches/msg, "
                    f"smtp-source busy {client / wall:.0%}")
    for key in list(running):
        servers.stop(running.pop(key)[0])
    rows = []
    for sessions, persistent in modes:
        ref = None
        for title, key, _, _ in todo:
            s = samples[(key, sessions, persistent)]
            wall = statistics.median(x[0] for x in s)
            cpu = statistics.median(x[1] for x in s)
            # Switches per message show what CPU time does not: a server that
            # wakes another thread per command or connection (finding 15 in
            # docs/performance.md). Client busy near 100% means smtp-source,
            # not the server, set the rate.
            row = {"server": title, "key": key, "sessions": sessions, "persistent": persistent, "messages": n,
                   "wall_s": wall, "msgs_per_s": n / wall, "cpu_us_per_msg": cpu / n * 1e6,
                   "switches_per_msg": statistics.median(x[2] for x in s) / n,
                   "client_busy": statistics.median(x[3] / x[0] for x in s),
                   "runs": [{"wall_s": w, "cpu_s": c, "switches": sw, "client_cpu_s": cl} for w, c, sw, cl in s]}
            rows.append(row)
        ref = next((r for r in rows[-len(todo):] if r["key"] == "smtp-sink"), None)
        for r in rows[-len(todo):]:
            if ref:
                r["x_msgs"] = r["msgs_per_s"] / ref["msgs_per_s"]
                r["x_cpu"] = r["cpu_us_per_msg"] / ref["cpu_us_per_msg"] if ref["cpu_us_per_msg"] else None
                # Round by round (the servers took turns within each), so
                # that a median near 1.0 shows how far the rounds spread.
                pairs = list(zip(r["runs"], ref["runs"]))
                r["x_msgs_rounds"] = [b["wall_s"] / a["wall_s"] for a, b in pairs]
                r["x_cpu_rounds"] = [a["cpu_s"] / b["cpu_s"] for a, b in pairs if b["cpu_s"]]
    return rows


def server_text(rows):
    head = ["server", "sessions", "connections", "msgs/s", "server CPU µs/msg", "× smtp-sink msgs/s",
            "× smtp-sink CPU", "switches/msg", "client busy"]
    body = [[r["server"], str(r["sessions"]), "persistent (-d)" if r["persistent"] else "one per message",
             f"{r['msgs_per_s']:.0f}", f"{r['cpu_us_per_msg']:.0f}", ratio(r.get("x_msgs")), ratio(r.get("x_cpu")),
             f"{r['switches_per_msg']:.1f}", f"{r['client_busy']:.0%}"]
            for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    lines += ["  ".join(x.ljust(w) if i < 3 else x.rjust(w) for i, (x, w) in enumerate(zip(b, widths))) for b in body]
    md = ["| " + " | ".join(head) + " |", "|---|---:|---|" + "---:|" * (len(head) - 3)]
    md += ["| " + " | ".join(b) + " |" for b in body]
    return "\n".join(lines), "\n".join(md)


# ---------------------------------------------------------------- output

def spread(rounds):
    """", rounds 0.93–1.05×" when there was more than one round."""
    if not rounds or len(rounds) < 2:
        return ""
    return f", rounds {min(rounds):.2f}–{max(rounds):.2f}×"


def ratio(x):
    if x is None:
        return ""
    return f"{x:.2f}" if x >= 0.1 else f"{x:.4f}"


def table(rows):
    head = ["tool", "messages", "wall s", "msgs/s", "CPU ms", "CPU µs/msg", "× smtp-source", "× smtplib"]
    body = []
    for r in rows:
        body.append([r["tool"], str(r["messages"]), f"{r['wall_s']:.3f}", f"{r['msgs_per_s']:.0f}",
                     f"{r['cpu_ms']:.0f}", f"{r['cpu_us_per_msg']:.0f}",
                     ratio(r.get("x_smtp-source")), ratio(r.get("x_smtplib"))])
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    for b in body:
        lines.append("  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(b, widths))))
    md = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    md += ["| " + " | ".join(b) + " |" for b in body]
    return "\n".join(lines), "\n".join(md)


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "os": sh(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "go": sh(["go", "version"]),
        "python": sh([sys.executable, "--version"]),
        "postfix": sh(["postconf", "-d", "-h", "mail_version"]),
        "swaks": sh(["sh", "-c", "swaks --version 2>&1 | head -1"]),
        "ehlo": sh(["sh", "-c", "git -C '%s' describe --always --dirty 2>/dev/null" % os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]),
    }


def loadavg():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# ---------------------------------------------------------------- the rest

def write_message(path, size, eol):
    hdr = (f"From: {FROM}{eol}To: {TO}{eol}Subject: ehlo comparison message{eol}"
           f"Message-ID: <compare@example.com>{eol}Date: Mon, 1 Jan 2024 00:00:00 +0000{eol}{eol}")
    line = "The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij." + eol
    with open(path, "w", newline="") as f:
        f.write(hdr)
        n = len(hdr)
        while n + len(line) <= size:
            f.write(line)
            n += len(line)


def big_message(args, tmp, port):
    """Peak RSS of ehlo sending a 100 MB message into smtp-sink, from a file
    (--data @FILE) and from standard input (--data -), via /usr/bin/time -v."""
    path = os.path.join(tmp, "big.eml")
    write_message(path, args.big_mb * 1000 * 1000, "\r\n")
    size = os.path.getsize(path)
    out = []
    for label, data, stdin in (("--data @FILE", "@" + path, None), ("--data - (stdin)", "-", path)):
        cmd = [args.ehlo, "send", f"{HOST}:{port}", "--from", FROM, "--to", TO, "--helo", HELO,
               "--data", data, "--quiet"]
        timev = shutil.which("time", path="/usr/bin") or ""
        if timev:
            cmd = [timev, "-v"] + cmd
        start = time.perf_counter()
        with open(stdin or os.devnull, "rb") as fin:
            p = subprocess.run(cmd, stdin=fin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if p.returncode != 0:
            raise RuntimeError(f"100 MB send failed ({p.returncode}): {p.stderr[-2000:]}")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        rss_kb = int(m.group(1)) if m else None
        out.append({"how": label, "bytes": size, "wall_s": wall, "mb_per_s": size / wall / 1e6,
                    "maxrss_kib": rss_kb})
        log(f"100 MB {label}: {wall:.2f} s, maxrss {rss_kb} KiB")
    os.remove(path)
    return out


def startup(args):
    """`ehlo version` wall time: hyperfine when present, else 100 runs here."""
    hf = shutil.which("hyperfine")
    if hf:
        with tempfile.NamedTemporaryFile(suffix=".json") as j:
            subprocess.run([hf, "-N", "--warmup", "10", "--runs", "100", "--export-json", j.name,
                            f"{args.ehlo} version"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = json.load(open(j.name))["results"][0]
        return {"tool": "hyperfine", "mean_ms": r["mean"] * 1000, "median_ms": r["median"] * 1000,
                "stddev_ms": (r.get("stddev") or 0) * 1000, "min_ms": r["min"] * 1000, "max_ms": r["max"] * 1000}
    times = []
    for _ in range(100):
        t = time.perf_counter()
        subprocess.run([args.ehlo, "version"], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return {"tool": "python loop", "mean_ms": statistics.mean(times) * 1000,
            "median_ms": statistics.median(times) * 1000, "stddev_ms": statistics.stdev(times) * 1000,
            "min_ms": min(times) * 1000, "max_ms": max(times) * 1000}


def check(targets, name, ok, detail):
    targets.append({"target": name, "met": bool(ok), "detail": detail})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ehlo", required=True)
    ap.add_argument("--gosmtp", required=True)
    ap.add_argument("--latency", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("COMPARE_RUNS", 3)))
    ap.add_argument("--messages", type=int, default=int(os.environ.get("COMPARE_MESSAGES", 4000)))
    ap.add_argument("--delayed-messages", type=int, default=int(os.environ.get("COMPARE_DELAYED_MESSAGES", 300)))
    ap.add_argument("--swaks-messages", type=int, default=int(os.environ.get("COMPARE_SWAKS_MESSAGES", 50)))
    ap.add_argument("--delay", default=os.environ.get("COMPARE_DELAY", "5ms"))
    ap.add_argument("--big-mb", type=int, default=int(os.environ.get("COMPARE_BIG_MB", 100)))
    ap.add_argument("--server-messages", type=int, default=int(os.environ.get("COMPARE_SERVER_MESSAGES", 4000)))
    ap.add_argument("--only", nargs="*", help="client keys to run (ehlo, ehlo-pipe, ehlo-depth1, ehlo-nopipe, smtp-source, "
                    "smtplib, go-smtp, swaks); `--only server` runs the server table alone")
    ap.add_argument("--servers", nargs="*", help="server keys of the server table (sandbox-quiet, sandbox, smtp-sink, "
                    "aiosmtpd); default all")
    ap.add_argument("--skip", nargs="*", default=[], choices=["loopback", "delayed", "big", "startup", "server"])
    args = ap.parse_args()
    if args.only and "server" in args.only:
        args.only = [k for k in args.only if k != "server"]
        if not args.only:
            args.skip = ["loopback", "delayed", "big", "startup"]
    args.here = os.path.dirname(os.path.abspath(__file__))
    args.ehlo = os.path.abspath(args.ehlo)
    os.makedirs(args.out, exist_ok=True)

    info = machine()
    info["load_before"] = loadavg()
    log(f"{info['date']}: {info['nproc']} CPUs ({info['cpu']}), load {info['load_before']}")
    results = {"machine": info, "setups": {}, "targets": []}
    servers = Servers()
    tmp = tempfile.mkdtemp(prefix="ehlo-compare-")
    t0 = time.monotonic()
    try:
        msg = os.path.join(tmp, "msg.eml")
        msg_lf = os.path.join(tmp, "msg-lf.eml")  # smtp-source -F adds CRLF itself
        write_message(msg, 1024, "\r\n")
        with open(msg, "rb") as f, open(msg_lf, "wb") as g:
            g.write(f.read().replace(b"\r\n", b"\n"))
        results["message_bytes"] = os.path.getsize(msg)

        if "server" not in args.skip:
            log(f"servers: smtp-source -s 1 and -s 8, -m {args.server_messages} -l 1024, into each server")
            results["servers"] = server_table(args, servers)
        sink = start_smtp_sink(servers) if {"loopback", "big"} - set(args.skip) else None
        if "loopback" not in args.skip:
            log(f"loopback: smtp-sink on {HOST}:{sink}, {args.messages} messages "
                f"(swaks {args.swaks_messages}), {args.runs} runs")
            rows = run_setup("loopback", args, msg, msg_lf, sink, args.messages, args.swaks_messages)
            results["setups"]["loopback"] = {"server": "smtp-sink", "rows": rows}
        if "delayed" not in args.skip:
            sb = start_sandbox(servers, args.ehlo)
            lat = start_latency(servers, args.latency, sb, args.delay)
            measured = reply_delay(lat)
            log(f"delayed: sandbox on {HOST}:{sb} behind the latency proxy on {HOST}:{lat}, "
                f"NOOP round trip {measured:.2f} ms; {args.delayed_messages} messages")
            n_swaks = max(5, args.swaks_messages // 3)
            rows = run_setup("delayed", args, msg, msg_lf, lat, args.delayed_messages, n_swaks)
            results["setups"]["delayed"] = {"server": f"ehlo sandbox + {args.delay} reply latency",
                                            "noop_rtt_ms": measured, "rows": rows}
        if "big" not in args.skip:
            results["big"] = big_message(args, tmp, sink)
        if "startup" not in args.skip:
            results["startup"] = startup(args)
            log(f"ehlo version: mean {results['startup']['mean_ms']:.1f} ms")
    finally:
        servers.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    info["load_after"] = loadavg()
    info["elapsed_s"] = round(time.monotonic() - t0, 1)

    # ------------------------------------------------------------ targets
    tg = results["targets"]
    lb = {r["key"]: r for r in results["setups"].get("loopback", {}).get("rows", [])}
    if {"ehlo", "smtp-source"} <= lb.keys():
        e, s = lb["ehlo"], lb["smtp-source"]
        r = e["wall_s"] / e["messages"] / (s["wall_s"] / s["messages"])
        check(tg, "loopback: ehlo wall time within 1.1× smtp-source's", r <= 1.1, f"{r:.2f}×")
        r = e["cpu_us_per_msg"] / s["cpu_us_per_msg"]
        check(tg, "loopback: ehlo CPU per message ≤ smtp-source's", r <= 1.0,
              f"{e['cpu_us_per_msg']:.0f} vs {s['cpu_us_per_msg']:.0f} µs/msg ({r:.2f}×)")
    if {"ehlo-nopipe", "smtp-source"} <= lb.keys():
        e, s = lb["ehlo-nopipe"], lb["smtp-source"]
        r = e["cpu_us_per_msg"] / s["cpu_us_per_msg"]
        rounds = [a["cpu_s"] / b["cpu_s"] for a, b in zip(e["runs"], s["runs"]) if b["cpu_s"]]
        check(tg, "loopback: ehlo --no-pipeline CPU per message ≤ smtp-source's", r <= 1.0,
              f"{e['cpu_us_per_msg']:.0f} vs {s['cpu_us_per_msg']:.0f} µs/msg ({r:.2f}×{spread(rounds)})")
    if {"ehlo", "smtplib"} <= lb.keys():
        r = lb["ehlo"]["msgs_per_s"] / lb["smtplib"]["msgs_per_s"]
        check(tg, "loopback: ehlo ≥ 2.3× smtplib's msgs/s", r >= 2.3, f"{r:.2f}×")
    if {"ehlo", "go-smtp"} <= lb.keys():
        r = lb["ehlo"]["msgs_per_s"] / lb["go-smtp"]["msgs_per_s"]
        check(tg, "loopback: ehlo ≥ go-smtp's msgs/s", r >= 1.0, f"{r:.2f}×")
    dl = {r["key"]: r for r in results["setups"].get("delayed", {}).get("rows", [])}
    if {"ehlo", "smtplib"} <= dl.keys():
        r = dl["ehlo"]["msgs_per_s"] / dl["smtplib"]["msgs_per_s"]
        check(tg, f"{args.delay} replies: ehlo ≥ 4× smtplib's msgs/s", r >= 4.0, f"{r:.2f}×")
    if {"ehlo", "smtp-source"} <= dl.keys():
        r = dl["ehlo"]["msgs_per_s"] / dl["smtp-source"]["msgs_per_s"]
        check(tg, f"{args.delay} replies: ehlo ≥ smtp-source's msgs/s", r >= 1.0, f"{r:.2f}×")
    if {"ehlo", "go-smtp"} <= dl.keys():
        r = dl["ehlo"]["msgs_per_s"] / dl["go-smtp"]["msgs_per_s"]
        check(tg, f"{args.delay} replies: ehlo ≥ go-smtp's msgs/s", r >= 1.0, f"{r:.2f}×")
    sinks = {(r["sessions"], r["persistent"]): r for r in results.get("servers", []) if r["key"] == "smtp-sink"}
    for r in results.get("servers", []):
        if not r["key"].startswith("sandbox") or "x_msgs" not in r:
            continue
        how = f"{r['server']}, {r['sessions']} session(s), {'persistent' if r['persistent'] else 'one connection per message'}"
        # smtp-source near 100% busy against both servers means the rate is
        # the client's, and the ratio a coin toss around 1.0.
        sink = sinks.get((r["sessions"], r["persistent"]))
        busy = f", smtp-source busy {r['client_busy']:.0%} / {sink['client_busy']:.0%}" if sink else ""
        check(tg, f"server: {how}: msgs/s ≥ smtp-sink's", r["x_msgs"] >= 1.0,
              f"{r['x_msgs']:.2f}×{spread(r.get('x_msgs_rounds'))}{busy}")
        if r.get("x_cpu") is not None:
            check(tg, f"server: {how}: CPU per message ≤ 1.5× smtp-sink's", r["x_cpu"] <= 1.5,
                  f"{r['cpu_us_per_msg']:.0f} µs/msg, {r['x_cpu']:.2f}×{spread(r.get('x_cpu_rounds'))}")
    for b in results.get("big", []):
        if b["maxrss_kib"] is not None:
            mib = b["maxrss_kib"] / 1024
            check(tg, f"{args.big_mb} MB message, {b['how']}: peak RSS < 32 MiB", mib < 32, f"{mib:.1f} MiB")
    if "startup" in results:
        st = results["startup"]
        check(tg, "`ehlo version` starts in < 20 ms", st["mean_ms"] < 20,
              f"mean {st['mean_ms']:.1f} ms, median {st['median_ms']:.1f} ms ({st['tool']})")

    # ------------------------------------------------------------ report
    md = [f"Measured {info['date']} on {info['nproc']} CPUs ({info['cpu']}), {info['os']}, kernel {info['kernel']}; "
          f"{info['go']}; {info['python']}; Postfix {info['postfix']}; {info['swaks']}; ehlo {info['ehlo']}. "
          f"Load average before {info['load_before']}, after {info['load_after']}. "
          f"Message {results['message_bytes']} bytes; median of {args.runs} runs.", ""]
    print()
    print(md[0])
    for key, title in (("loopback", "Loopback into smtp-sink"), ("delayed", "Every reply delayed")):
        if key not in results["setups"]:
            continue
        st = results["setups"][key]
        extra = f" (NOOP round trip measured {st['noop_rtt_ms']:.2f} ms)" if "noop_rtt_ms" in st else ""
        txt, mdt = table(st["rows"])
        print(f"\n{title}: {st['server']}{extra}\n{txt}")
        md += [f"**{title}**: {st['server']}{extra}", "", mdt, ""]
    if results.get("servers"):
        txt, mdt = server_text(results["servers"])
        title = f"Servers receiving from smtp-source ({args.server_messages} messages of 1 KiB)"
        print(f"\n{title}\n{txt}")
        md += [f"**{title}**", "", mdt, ""]
    if results.get("big"):
        print()
        md += ["| 100 MB message into smtp-sink | wall s | MB/s | peak RSS MiB |", "|---|---:|---:|---:|"]
        for b in results["big"]:
            rss = f"{b['maxrss_kib'] / 1024:.1f}" if b["maxrss_kib"] is not None else "?"
            print(f"{args.big_mb} MB, ehlo send {b['how']}: {b['wall_s']:.2f} s, {b['mb_per_s']:.0f} MB/s, "
                  f"peak RSS {rss} MiB")
            md.append(f"| ehlo send {b['how']} --quiet | {b['wall_s']:.2f} | {b['mb_per_s']:.0f} | {rss} |")
        md.append("")
    if "startup" in results:
        st = results["startup"]
        line = (f"`ehlo version`: mean {st['mean_ms']:.1f} ms ± {st['stddev_ms']:.1f}, median {st['median_ms']:.1f} ms, "
                f"min {st['min_ms']:.1f} ms ({st['tool']}, 100 runs)")
        print(line)
        md += [line, ""]
    print("\nTargets:")
    md += ["| target | result | |", "|---|---|---|"]
    for t in tg:
        print(f"  {'MET   ' if t['met'] else 'MISSED'}  {t['target']}: {t['detail']}")
        md.append(f"| {t['target']} | {t['detail']} | {'met' if t['met'] else '**missed**'} |")
    print(f"\n(took {info['elapsed_s']} s; results in {args.out}/results.json and results.md)")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared helpers of the aifactory benchmarks: connections, client-side timing, the result
table and its JSON.

Every figure is a client wall clock (time.perf_counter) around one whole statement over a
loopback TCP connection: send, execute, and fetch the (tiny) result.  A measurement is the
median of N runs after W warm-up runs; measurements compared with each other are run
interleaved (round 1 of each, round 2 of each, ...) so that a burst of load from someone
else on the machine hits all of them alike.
"""

import json
import os
import platform
import statistics
import subprocess
import threading
import time

import psycopg2

RUNS = int(os.environ.get("AIF_BENCH_RUNS", "5"))
WARMUPS = int(os.environ.get("AIF_BENCH_WARMUPS", "1"))


def connect(autocommit=True):
    """A connection from the libpq environment (PGHOST=127.0.0.1, PGPORT, ...)."""
    conn = psycopg2.connect("")
    conn.autocommit = autocommit
    return conn


def run_sql(conn, sql, params=None):
    """Execute one statement and fetch its result: (milliseconds, rows)."""
    with conn.cursor() as cur:
        t0 = time.perf_counter()
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description is not None else []
        t1 = time.perf_counter()
    return (t1 - t0) * 1000.0, rows


def measure(items, runs=None, warmups=None, log=None):
    """Time callables interleaved.

    items: list of (key, fn) where fn() runs once and returns milliseconds.  Runs each
    warm-up round, then `runs` rounds; returns {key: [ms, ...]} of the timed rounds.
    """
    runs = RUNS if runs is None else runs
    warmups = WARMUPS if warmups is None else warmups
    for _ in range(warmups):
        for _key, fn in items:
            fn()
    times = {key: [] for key, _ in items}
    for r in range(runs):
        for key, fn in items:
            times[key].append(fn())
        if log:
            log("  round %d/%d: %s" % (r + 1, runs, ", ".join(
                "%s %.0f ms" % (k, times[k][-1]) for k, _ in items)))
    return times


def median(xs):
    return statistics.median(xs)


class WorkerWatch:
    """Watch, from a second connection, how many parallel workers the backend `pid` leads
    while a statement runs (pg_stat_activity.leader_pid; no pg_stat_statements needed).
    Use as a context manager around the statement; .max_workers is the most seen at once."""

    def __init__(self, pid, interval=0.005):
        self.pid = pid
        self.interval = interval
        self.max_workers = 0
        self.samples = 0
        self._stop = threading.Event()
        self._conn = connect()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with self._conn.cursor() as cur:
            while not self._stop.is_set():
                cur.execute("SELECT count(*) FROM pg_catalog.pg_stat_activity"
                            " WHERE leader_pid = %s AND pid <> %s", (self.pid, self.pid))
                n = cur.fetchone()[0]
                self.samples += 1
                self.max_workers = max(self.max_workers, n)
                time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._conn.close()
        return False


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return None


def machine_info():
    info = {"cores": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            info["memory_gb"] = round(kb / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    info["loadavg_at_start"] = loadavg()
    return info


def git_commit(repo):
    try:
        out = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--", "src", "sql"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def fmt_ms(x):
    return "" if x is None else "%.1f" % x


def fmt_ratio(x):
    return "" if x is None else "%.2f" % x


def row(measurement, ms=None, runs=None, peer=None, peer_ms=None, ratio=None, target=None,
        verdict=None, key=None, sql=None, ratio_text=None, note=None):
    """One line of a results table (print_table) and of the JSON output."""
    r = {"key": key, "measurement": measurement, "ms": ms, "runs_ms": runs, "peer": peer,
         "peer_ms": peer_ms, "ratio": ratio, "target": target, "verdict": verdict}
    if ratio_text:
        r["ratio_text"] = ratio_text
    if sql:
        r["sql"] = sql
    if note:
        r["note"] = note
    return r


def print_table(rows, out=print):
    """rows: dicts with measurement, ms, peer, peer_ms, ratio, target (text or None),
    verdict (PASS/FAIL/None), note."""
    heads = ("measurement", "ms", "peer", "peer ms", "ratio", "target", "result")
    table = [heads]
    for r in rows:
        table.append((r["measurement"], fmt_ms(r.get("ms")), r.get("peer") or "",
                      fmt_ms(r.get("peer_ms")),
                      r.get("ratio_text") or fmt_ratio(r.get("ratio")),
                      r.get("target") or "", r.get("verdict") or ""))
    widths = [max(len(t[i]) for t in table) for i in range(len(heads))]
    right = {1, 3, 4}
    for i, t in enumerate(table):
        out("  ".join(c.rjust(widths[j]) if j in right else c.ljust(widths[j])
                      for j, c in enumerate(t)).rstrip())
        if i == 0:
            out("  ".join("-" * w for w in widths))


def write_json(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)

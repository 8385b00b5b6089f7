#!/usr/bin/python3
"""aifactory drift benchmark: the measurements.  bench/drift.sh sets up the cluster and the
bench table and runs this with /usr/bin/python3; it can also run alone against any database
holding the bench table and the extension (libpq environment: PGHOST, PGPORT, PGUSER,
PGDATABASE).

    (1) SELECT count(*) FROM aifactory.drift('bench_lin', 'SELECT f1, ..., f20 FROM bench')
        (current data: the 1M rows; normed Wasserstein, PSI, prediction drift) vs. the scan
        floor SELECT sum(f1 + ... + f20) FROM bench                     target ratio <= 2.0
    (2) vs. an Evidently-style computation with numpy/scipy on arrays already in memory
        (reference: the first 750k rows by id; current: the 1M rows): per feature
        wasserstein_distance / std(ref), PSI on Sturges histogram bins, ks_2samp, and the
        prediction's normed Wasserstein; the binary COPY export is timed apart, once
    (3) verdicts of both sides on the same data (none expected) and on a shifted copy
        (+0.5 sd on f1..f5: exactly those expected)

Writes the tables to stdout and the same as JSON to bench/out/drift.json (or --out).
"""

import argparse
import datetime
import os
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import row  # noqa: E402
import classify  # noqa: E402  (ensure_train_memory)
import sklearn_linear  # noqa: E402  (binary COPY export)

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = ["f%d" % i for i in range(1, 21)]
FLIST = ", ".join(FEATURES)
SHIFTED = FEATURES[:5]
SHIFT_SD = 0.5
REF_ROWS = 750000

RUNS = int(os.environ.get("AIF_BENCH_RUNS", "3"))
WARMUPS = int(os.environ.get("AIF_BENCH_WARMUPS", "1"))
TARGET = 2.0
WASS_T = 0.1   # Evidently's defaults above 1000 rows
PSI_T = 0.1
KS_P = 0.05

SRC = "SELECT %s FROM bench" % FLIST
SQL = {
    "floor": "SELECT sum(%s) FROM bench" % " + ".join(FEATURES),
    "train_lin": ("SELECT * FROM aifactory.train('bench_lin', 'SELECT %s, y FROM bench', 'y',"
                  " 'linear', seed => 1, deploy => 'latest')" % FLIST),
    "train_ridge": ("SELECT * FROM aifactory.train('bench_ridge', 'SELECT %s, y FROM bench', 'y',"
                    " 'ridge', '{\"impute\": \"median\"}', seed => 1, deploy => 'latest')"
                    % FLIST),
    "drift": "SELECT count(*) FROM aifactory.drift('bench_lin', '%s')" % SRC,
    "drift_ridge": "SELECT count(*) FROM aifactory.drift('bench_ridge', '%s')" % SRC,
    "drift_rows": "SELECT * FROM aifactory.drift('bench_lin', '%s')" % SRC,
    "drift_shift_rows": ("SELECT * FROM aifactory.drift('bench_lin', 'SELECT %s FROM bench_shift')"
                         % FLIST),
}


def log(msg=""):
    print(msg, flush=True)


def timed(fn, *args):
    t0 = time.perf_counter()
    r = fn(*args)
    return (time.perf_counter() - t0) * 1000.0, r


def sql_timer(conn, sql):
    def fn():
        return benchlib.run_sql(conn, sql)[0]
    return fn


# ---- the Evidently-style side --------------------------------------------------------------

def evidently(ref, cur, coef, parts=None):
    """Per feature (columns of the Fortran-ordered arrays) and for the prediction: Evidently's
    normed Wasserstein, PSI and KS.  Returns {name: {...}}; parts gets the seconds by method."""
    from scipy import stats
    t = {"wasserstein": 0.0, "psi": 0.0, "ks": 0.0, "prediction": 0.0}
    out = {}

    def one(name, r, c, ks=True):
        t0 = time.perf_counter()
        wd = stats.wasserstein_distance(r, c) / max(np.std(r), 0.001)
        t1 = time.perf_counter()
        bins = np.histogram_bin_edges(np.concatenate([r, c]), bins="sturges")
        rp = np.histogram(r, bins)[0] / len(r)
        cp = np.histogram(c, bins)[0] / len(c)
        np.place(rp, rp == 0, 0.0001)
        np.place(cp, cp == 0, 0.0001)
        psi = float(np.sum((rp - cp) * np.log(rp / cp)))
        t2 = time.perf_counter()
        d = p = None
        if ks:
            d, p = stats.ks_2samp(r, c)
        t3 = time.perf_counter()
        t["wasserstein"] += t1 - t0
        t["psi"] += t2 - t1
        t["ks"] += t3 - t2
        out[name] = {"wasserstein": float(wd), "psi": psi, "ks_d": None if d is None else float(d),
                     "ks_p": None if p is None else float(p)}

    for j, f in enumerate(FEATURES):
        one(f, ref[:, j], cur[:, j])
    t0 = time.perf_counter()
    b = np.array([coef[f] for f in FEATURES])
    pr = ref @ b + coef["intercept"]
    pc = cur @ b + coef["intercept"]
    t["prediction"] += time.perf_counter() - t0
    one("(prediction)", pr, pc, ks=False)
    if parts is not None:
        parts.append(t)
    return out


def compare(ours_rows, py, expected):
    """ours_rows: drift()'s rows; py: evidently()'s output; expected: the set of features that
    should drift.  Returns a summary dict."""
    ours = {r[0]: {"kind": r[1], "method": r[2], "statistic": r[3], "p_value": r[4],
                   "threshold": r[5], "drifted": r[6], "psi": r[7]} for r in ours_rows}
    names = FEATURES + ["(prediction)"]
    ours_drift = sorted(f for f in FEATURES if ours[f]["drifted"])
    ours_psi = sorted(f for f in FEATURES if (ours[f]["psi"] or 0) >= PSI_T)
    py_wass = sorted(f for f in FEATURES if py[f]["wasserstein"] >= WASS_T)
    py_psi = sorted(f for f in FEATURES if py[f]["psi"] >= PSI_T)
    py_ks = sorted(f for f in FEATURES if py[f]["ks_p"] < KS_P)
    wdiff = max(abs(ours[n]["statistic"] - py[n]["wasserstein"]) for n in names
                if ours.get(n) and ours[n]["method"] == "wasserstein")
    pdiff = max(abs(ours[n]["psi"] - py[n]["psi"]) for n in names
                if ours.get(n) and ours[n]["psi"] is not None)
    exp = sorted(expected)
    return {
        "methods": sorted({ours[n]["method"] for n in names if n in ours}),
        "ours_drifted": ours_drift, "ours_psi_ge_0.1": ours_psi,
        "ours_prediction": ours.get("(prediction)"), "ours_dataset": ours.get("(dataset)"),
        "py_wasserstein_ge_0.1": py_wass, "py_psi_ge_0.1": py_psi, "py_ks_p_lt_0.05": py_ks,
        "py_prediction": py["(prediction)"],
        "max_abs_diff_wasserstein": wdiff, "max_abs_diff_psi": pdiff,
        "expected": exp,
        "agree": ours_drift == py_wass == exp and ours_psi == py_psi == exp,
        "per_feature": {n: {"ours": ours.get(n), "python": py.get(n)} for n in names},
    }


def print_verdicts(title, c):
    log("  %s: drift() drifted %s (methods %s), psi >= 0.1 %s; Python wasserstein >= 0.1 %s, "
        "psi >= 0.1 %s, ks p < 0.05 %s; expected %s -> %s" % (
            title, c["ours_drifted"] or "none", "/".join(c["methods"]), c["ours_psi_ge_0.1"] or
            "none", c["py_wasserstein_ge_0.1"] or "none", c["py_psi_ge_0.1"] or "none",
            c["py_ks_p_lt_0.05"] or "none", c["expected"] or "none",
            "AGREE" if c["agree"] else "DISAGREE"))
    op, pp = c["ours_prediction"] or {}, c["py_prediction"]
    log("    |statistic difference| max: normed wasserstein %.4f, psi %.4f; (prediction) ours "
        "%s %.4f psi %.4f drifted %s, Python wasserstein %.4f psi %.4f; (dataset) share %s" % (
            c["max_abs_diff_wasserstein"], c["max_abs_diff_psi"], op.get("method"),
            op.get("statistic") or float("nan"), op.get("psi") or float("nan"),
            op.get("drifted"), pp["wasserstein"], pp["psi"],
            (c["ours_dataset"] or {}).get("statistic")))


def perf_profile(conn, sql, path):
    """One more call under perf record on the backend; the top of perf report."""
    _ms, [(pid,)] = benchlib.run_sql(conn, "SELECT pg_catalog.pg_backend_pid()")
    p = subprocess.Popen(["/usr/bin/perf", "record", "-F", "499", "-g", "-o", path, "-p",
                          str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    ms, _ = benchlib.run_sql(conn, sql)
    p.send_signal(signal.SIGINT)
    p.wait()
    rep = subprocess.run(["/usr/bin/perf", "report", "-i", path, "--stdio", "--no-children",
                          "-g", "none", "--percent-limit", "1.5", "--sort", "dso,symbol"],
                         capture_output=True, text=True).stdout
    lines = [ln for ln in rep.splitlines() if ln.strip() and not ln.startswith("#")]
    lines = [" ".join(ln.split()[:4]) for ln in lines[:25]]
    try:  # another `make install` during the run leaves the loaded .so deleted: no symbols
        with open("/proc/%d/maps" % pid) as f:
            if any("aifactory.so (deleted)" in ln for ln in f):
                lines.append("NOTE: the backend's aifactory.so was replaced on disk during the "
                             "run (another make install); its symbols are not resolved")
    except OSError:
        pass
    return ms, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "out", "drift.json"))
    ap.add_argument("--no-shift", action="store_true", help="skip the shifted copy (3)")
    ap.add_argument("--no-ridge", action="store_true", help="skip the ridge side row")
    ap.add_argument("--perf", action="store_true",
                    help="profile one more drift() call with /usr/bin/perf (backend only)")
    args = ap.parse_args()

    started = time.time()
    conn = benchlib.connect()
    _ms, [(version,)] = benchlib.run_sql(conn, "SELECT pg_catalog.version()")
    raised = classify.ensure_train_memory(conn, log)
    settings = {}
    for s in ("max_parallel_workers_per_gather", "shared_buffers", "work_mem", "jit"):
        settings[s] = benchlib.run_sql(conn, "SHOW " + s)[1][0][0]
    _ms, [(nrows, relsize)] = benchlib.run_sql(
        conn, "SELECT count(*), pg_catalog.pg_total_relation_size('bench') FROM bench")
    import scipy
    machine = benchlib.machine_info()
    log("PostgreSQL: %s" % version)
    log("bench: %d rows, %.0f MB; settings: %s" % (
        nrows, relsize / 1e6, ", ".join("%s=%s" % kv for kv in settings.items())))
    log("numpy %s, scipy %s (%s)" % (np.__version__, scipy.__version__, sys.executable))
    log("load average before the measurements: %s" % " ".join(machine["loadavg_at_start"] or []))
    doc = {"benchmark": "drift",
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "machine": machine, "git": benchlib.git_commit(os.path.dirname(HERE)),
           "postgres": version, "settings": settings, "train_memory_raised": raised,
           "numpy": np.__version__, "scipy": scipy.__version__, "python": sys.executable,
           "table": {"rows": nrows, "bytes": relsize}, "runs": RUNS, "warmups": WARMUPS,
           "sql": SQL}

    # ---- models with baselines ----
    models = {}
    for key, name in (("train_lin", "bench_lin"), ("train_ridge", "bench_ridge")):
        if key == "train_ridge" and args.no_ridge:
            continue
        ms, _ = benchlib.run_sql(conn, SQL[key])
        _ms, [(info,)] = benchlib.run_sql(conn, "SELECT aifactory.model_info(%s)", (name,))
        models[name] = {"train_ms": ms, "baseline_bytes": info.get("baseline_bytes"),
                        "train_rows": info.get("train_rows"),
                        "test_rows": (info.get("metrics") or {}).get("test_rows")}
        log("  %s: trained in %.0f ms; baseline_bytes %s, train_rows %s, test_rows %s" % (
            name, ms, info.get("baseline_bytes"), info.get("train_rows"),
            (info.get("metrics") or {}).get("test_rows")))
    doc["models"] = models
    ridge = "bench_ridge" in models and models["bench_ridge"]["baseline_bytes"] is not None
    _ms, crows = benchlib.run_sql(
        conn, "SELECT feature, estimate FROM aifactory.coefficients('bench_lin')")
    coef = {k: float(v) for k, v in crows}

    # ---- the Python side's data (timed apart, once) ----
    ce = benchlib.connect(autocommit=False)
    ms_exp_cur, cur = timed(sklearn_linear.export_copy, ce, SRC, 20)
    ms_exp_ref, ref = timed(sklearn_linear.export_copy, ce, "SELECT %s FROM bench ORDER BY id "
                            "LIMIT %d" % (FLIST, REF_ROWS), 20)
    ce.close()
    ms_fort, (cur, ref) = timed(lambda: (np.asfortranarray(cur), np.asfortranarray(ref)))
    log("  Python side: binary COPY export of the 1M x 20 current rows %.0f ms, of the reference"
        " (first %d rows by id) %.0f ms; to column-major %.0f ms (once each, not timed below)"
        % (ms_exp_cur, REF_ROWS, ms_exp_ref, ms_fort))

    # ---- (1)(2) interleaved ----
    parts = []
    keep = {}

    def py_run():
        ms, r = timed(evidently, ref, cur, coef, parts)
        keep["py"] = r
        return ms

    items = [("floor", sql_timer(conn, SQL["floor"])), ("drift", sql_timer(conn, SQL["drift"]))]
    if ridge:
        items.append(("drift_ridge", sql_timer(conn, SQL["drift_ridge"])))
    items.append(("python", py_run))
    log("\n(1)(2) %d timed runs after %d warm-up, interleaved: %s" % (
        RUNS, WARMUPS, ", ".join(k for k, _ in items)))
    times = benchlib.measure(items, runs=RUNS, warmups=WARMUPS, log=log)
    med = {k: benchlib.median(v) for k, v in times.items()}
    timed_parts = parts[WARMUPS:]
    part_med = {k: 1000.0 * benchlib.median([p[k] for p in timed_parts]) for k in timed_parts[0]}
    no_ks = [1000.0 * (p["wasserstein"] + p["psi"] + p["prediction"]) for p in timed_parts]
    med["python_no_ks"] = benchlib.median(no_ks)
    log("  Python by method (medians, ms): %s; without KS %.0f" % (
        ", ".join("%s %.0f" % kv for kv in part_med.items()), med["python_no_ks"]))

    r_floor = med["drift"] / med["floor"]
    rows = [
        row("scan floor: sum(f1+..+f20) FROM bench", med["floor"], times["floor"], key="floor",
            sql=SQL["floor"]),
        row("drift('bench_lin', 1M x 20) count(*)", med["drift"], times["drift"], "scan floor",
            med["floor"], r_floor, "<= %.1f" % TARGET, classify.verdict(r_floor <= TARGET),
            key="drift", sql=SQL["drift"]),
    ]
    if ridge:
        rows.append(row("drift('bench_ridge', in-memory baseline)", med["drift_ridge"],
                        times["drift_ridge"], "scan floor", med["floor"],
                        med["drift_ridge"] / med["floor"], key="drift_ridge",
                        sql=SQL["drift_ridge"]))
    rows += [
        row("Python Evidently-style: wass + PSI + KS + pred", med["python"], times["python"],
            key="python", note="arrays in memory; export not included"),
        row("Python without KS (what drift() computes)", med["python_no_ks"], no_ks,
            key="python_no_ks"),
        row("drift / Python (wass + PSI + KS + pred)", med["drift"], None, "Python",
            med["python"], med["drift"] / med["python"], key="drift_vs_python"),
        row("drift / Python without KS", med["drift"], None, "Python without KS",
            med["python_no_ks"], med["drift"] / med["python_no_ks"], key="drift_vs_python_no_ks"),
        row("drift / (export + Python)", med["drift"], None, "export cur+ref + Python",
            ms_exp_cur + ms_exp_ref + med["python"],
            med["drift"] / (ms_exp_cur + ms_exp_ref + med["python"]), key="drift_vs_export"),
    ]
    doc["export_ms"] = {"current": ms_exp_cur, "reference": ms_exp_ref, "fortran": ms_fort}
    doc["medians_ms"] = med
    doc["runs_ms"] = times
    doc["python_parts_ms"] = part_med

    # ---- (3) verdicts ----
    log("\n(3) verdicts")
    _ms, drows = benchlib.run_sql(conn, SQL["drift_rows"])
    same = compare(drows, keep["py"], set())
    print_verdicts("same data", same)
    doc["verdicts_same"] = same
    shift = None
    if not args.no_shift:
        _ms, sds = benchlib.run_sql(conn, "SELECT %s FROM bench" % ", ".join(
            "stddev_samp(%s)" % f for f in SHIFTED))
        cols = ["%s + %r AS %s" % (f, SHIFT_SD * float(sd), f) if f in SHIFTED else f
                for f, sd in zip(FEATURES, list(sds[0]) + [0.0] * 20)]
        benchlib.run_sql(conn, "DROP TABLE IF EXISTS bench_shift")
        ms_mk, _ = benchlib.run_sql(conn, "CREATE TABLE bench_shift AS SELECT id, %s FROM bench"
                                    % ", ".join(cols))
        benchlib.run_sql(conn, "VACUUM ANALYZE bench_shift")
        ms_sd, srows = benchlib.run_sql(conn, SQL["drift_shift_rows"])
        ce = benchlib.connect(autocommit=False)
        ms_exp_s, scur = timed(sklearn_linear.export_copy, ce,
                               "SELECT %s FROM bench_shift" % FLIST, 20)
        ce.close()
        scur = np.asfortranarray(scur)
        ms_py_s, spy = timed(evidently, ref, scur, coef)
        shift = compare(srows, spy, set(SHIFTED))
        shift.update({"drift_ms": ms_sd, "python_ms": ms_py_s, "export_ms": ms_exp_s,
                      "create_ms": ms_mk})
        print_verdicts("shifted copy (+%.1f sd on %s)" % (SHIFT_SD, ",".join(SHIFTED)), shift)
        log("    shifted copy timed once: drift() %.0f ms, Python %.0f ms (export %.0f ms)" % (
            ms_sd, ms_py_s, ms_exp_s))
        doc["verdicts_shift"] = shift

    if args.perf:
        ms_p, lines = perf_profile(conn, SQL["drift"], os.path.join(HERE, "out", "drift.perf"))
        log("\nperf (one more call, %.0f ms, backend only; self time by dso/symbol):" % ms_p)
        for ln in lines:
            log("  " + ln)
        doc["perf_top"] = lines
    conn.close()

    log("\n==== aifactory drift benchmark: %s, %s cores, %s ====" % (
        doc["date"], machine["cores"], doc["git"]))
    log("timings: median of %d runs after %d warm-up, interleaved" % (RUNS, WARMUPS))
    benchlib.print_table(rows, log)
    log("")
    log("load average before the measurements %s, at the end %s" % (
        " ".join(machine.get("loadavg_at_start") or []), " ".join(benchlib.loadavg() or [])))
    targets = [{"target": "drift / scan floor <= %.1f" % TARGET, "value": r_floor,
                "text": "%.2f" % r_floor, "verdict": classify.verdict(r_floor <= TARGET)},
               {"target": "verdicts agree with Python, same data (none drift)",
                "value": same["agree"], "text": str(same["agree"]),
                "verdict": classify.verdict(same["agree"])}]
    if shift:
        targets.append({"target": "verdicts agree with Python, shifted copy (f1..f5 drift)",
                        "value": shift["agree"], "text": str(shift["agree"]),
                        "verdict": classify.verdict(shift["agree"])})
    log("")
    for t in targets:
        log("%s %s: %s" % (t["verdict"], t["target"], t["text"]))
    doc["measurements"] = rows
    doc["targets"] = targets
    doc["seconds"] = round(time.time() - started, 1)
    doc["machine"]["loadavg_at_end"] = benchlib.loadavg()
    benchlib.write_json(args.out, doc)
    log("\nwrote %s (%.0f s)" % (args.out, doc["seconds"]))


if __name__ == "__main__":
    main()

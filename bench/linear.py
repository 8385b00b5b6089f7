#!/usr/bin/python3
"""aifactory linear-regression benchmark: the measurements.  bench/linear.sh sets up the
cluster and the bench table and runs this with /usr/bin/python3; it can also run alone
against any database holding the bench table and the extension (libpq environment:
PGHOST, PGPORT, PGUSER, PGDATABASE).

    (a) scan floor vs. aifactory.train(...)                       target ratio <= 2.0
    (b) inline linear formula vs. aifactory.predict(...)          target ratio <= 1.5
    (c) scikit-learn: export, fit, export+fit vs. train; the coefficients agree to 1e-6
    side run: the same with max_parallel_workers_per_gather = 0, and whether train's scan
    ran in parallel (auto_explain of its nested query, and pg_stat_activity.leader_pid).

Writes the table to stdout and the same as JSON to bench/out/linear.json (or --out).
"""

import argparse
import datetime
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import row  # noqa: E402
import sklearn_linear  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = sklearn_linear.FEATURES
FLIST = ", ".join(FEATURES)
FARRAY = "ARRAY[%s]" % FLIST
FNAMES = "ARRAY[%s]" % ", ".join("'%s'" % f for f in FEATURES)

SQL = {
    "floor": "SELECT sum(%s + y) FROM bench" % " + ".join(FEATURES),
    "train": ("SELECT * FROM aifactory.train('bench_linear', 'SELECT %s, y FROM bench', 'y',"
              " 'linear', deploy => 'latest')" % FLIST),
    "train_table": ("SELECT * FROM aifactory.train('bench_linear_table', 'bench', 'y', 'linear',"
                    " features => %s, deploy => 'latest')" % FNAMES),
    "train_all": ("SELECT * FROM aifactory.train('bench_linear_all', 'SELECT %s, y FROM bench',"
                  " 'y', 'linear', test_size => 0, deploy => 'latest')" % FLIST),
    "train_serial": ("SELECT * FROM aifactory.train('bench_linear_serial', 'SELECT %s, y FROM bench',"
                     " 'y', 'linear', deploy => 'latest')" % FLIST),
    "predict": "SELECT sum(aifactory.predict('bench_linear', %s)) FROM bench" % FARRAY,
    "predict_row": "SELECT sum(aifactory.predict('bench_linear', b)) FROM bench b",
    # "inline" is built from the coefficients at run time
}

LABELS = {
    "floor": "scan floor: sum(f1+..+f20+y)",
    "train": "train, SELECT source (default call)",
    "train_table": "train, table 'bench' + features =>",
    "train_all": "train, test_size => 0 (all rows)",
    "inline": "inline formula: sum(b0+b1*f1+..+b20*f20)",
    "predict": "predict(project, float8[])",
    "predict_row": "predict(project, row)",
}


def log(msg):
    print(msg, flush=True)


def inline_sql(coefs):
    """The trained model written out in SQL: sum(b0 + b1*f1 + ... + b20*f20)."""
    terms = ["%r::float8" % coefs["intercept"]]
    for f in FEATURES:
        terms.append("%r::float8 * %s" % (coefs[f], f))
    return "SELECT sum(%s) FROM bench" % " + ".join(terms)


def coefficients(conn, project):
    _ms, rows = benchlib.run_sql(conn, "SELECT feature, estimate FROM aifactory.coefficients(%s)",
                                 (project,))
    return {f: e for f, e in rows}


def sql_timer(conn, sql, keep=None, key=None):
    """A callable running `sql` once on `conn`, returning ms; keeps the last result rows."""
    def fn():
        ms, rows = benchlib.run_sql(conn, sql)
        if keep is not None:
            keep[key] = rows
        return ms
    return fn


def warmup_watch(conn, keys, sqls, keep):
    """One warm-up run of each statement while a second connection counts the parallel
    workers it leads.  Returns {key: most workers seen at once}."""
    seen = {}
    for k in keys:
        with benchlib.WorkerWatch(conn.get_backend_pid()) as w:
            _ms, keep[k] = benchlib.run_sql(conn, sqls[k])
        seen[k] = w.max_workers
    return seen


def explain_workers(conn, sql):
    """EXPLAIN (ANALYZE, TIMING OFF) of one statement: (workers planned, launched, jit)."""
    _ms, rows = benchlib.run_sql(conn, "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) " + sql)
    text = "\n".join(r[0] for r in rows)
    return plan_facts(text)


def plan_facts(text):
    planned = [int(x) for x in re.findall(r"Workers Planned: (\d+)", text)]
    launched = [int(x) for x in re.findall(r"Workers Launched: (\d+)", text)]
    return {"workers_planned": sum(planned), "workers_launched": sum(launched),
            "jit": "JIT:" in text}


def train_pass_plans(sql):
    """Run `sql` (a train call) once with auto_explain reporting every nested statement's
    plan to the client; returns the facts of the plans that run the _train_pass aggregate."""
    conn = benchlib.connect()
    try:
        benchlib.run_sql(conn, "LOAD 'auto_explain'")
        for s in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                  "auto_explain.log_analyze = on", "auto_explain.log_timing = off",
                  "auto_explain.log_level = notice", "client_min_messages = notice"):
            benchlib.run_sql(conn, "SET " + s)
        conn.notices.clear()
        benchlib.run_sql(conn, sql)
        notices = list(conn.notices)
    finally:
        conn.close()
    return [plan_facts(n) for n in notices if "_train_pass" in n]


def metrics_of(rows):
    """The metrics jsonb of a train() result row (project, version, algorithm, metrics, deployed)."""
    if not rows:
        return {}
    m = rows[0][3]
    keep = ("r2", "train_rows", "test_rows", "fit_seconds", "condition_number",
            "refinement_passes", "evaluated_on")
    return {k: m.get(k) for k in keep if k in m}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "out", "linear.json"))
    ap.add_argument("--no-serial", action="store_true",
                    help="skip the side run with max_parallel_workers_per_gather = 0")
    ap.add_argument("--no-sklearn", action="store_true", help="skip (c)")
    ap.add_argument("--no-cursor", action="store_true",
                    help="time only the binary COPY export, not the server-side cursor")
    args = ap.parse_args()

    started = time.time()
    conn = benchlib.connect()
    _ms, [(version,)] = benchlib.run_sql(conn, "SELECT pg_catalog.version()")
    settings = {}
    for s in ("max_parallel_workers_per_gather", "max_parallel_workers", "max_worker_processes",
              "shared_buffers", "work_mem", "maintenance_work_mem", "jit", "fsync",
              "synchronous_commit", "aifactory.train_memory", "aifactory.blas_threads"):
        try:
            settings[s] = benchlib.run_sql(conn, "SHOW " + s)[1][0][0]
        except Exception:  # an unknown GUC (say, aifactory.train_memory) is no error here
            conn.rollback()
    _ms, [(nrows, relsize)] = benchlib.run_sql(
        conn, "SELECT count(*), pg_catalog.pg_total_relation_size('bench') FROM bench")
    log("PostgreSQL: %s" % version)
    log("bench: %d rows, %.0f MB; settings: %s" % (
        nrows, relsize / 1e6, ", ".join("%s=%s" % kv for kv in settings.items())))
    log("%d timed runs after %d warm-up, median; client wall clock over TCP %s:%s" % (
        benchlib.RUNS, benchlib.WARMUPS, os.environ.get("PGHOST", "?"),
        os.environ.get("PGPORT", "?")))

    rows = []
    keep = {}
    doc = {"benchmark": "linear",
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "machine": benchlib.machine_info(), "git": benchlib.git_commit(os.path.dirname(HERE)),
           "postgres": version, "settings": settings,
           "table": {"rows": nrows, "bytes": relsize}, "runs": benchlib.RUNS,
           "warmups": benchlib.WARMUPS, "timing": "client wall clock (perf_counter) over a "
           "loopback TCP connection, whole statement including result transfer; median of "
           "runs after warm-up; measurements of one group interleaved"}

    # ---- (a) scan floor vs train -----------------------------------------------------------
    log("\n(a) scan floor vs. train")
    keys = ["floor", "train", "train_table", "train_all"]
    seen = warmup_watch(conn, keys, SQL, keep) if benchlib.WARMUPS > 0 else {}
    log("  warm-up done; parallel workers seen (pg_stat_activity): %s" % seen)
    times = benchlib.measure([(k, sql_timer(conn, SQL[k], keep, k)) for k in keys],
                             warmups=0, log=log)
    med = {k: benchlib.median(v) for k, v in times.items()}
    floor = med["floor"]
    rows.append(row(LABELS["floor"], med["floor"], times["floor"], key="floor", sql=SQL["floor"]))
    r_a = med["train"] / floor
    rows.append(row(LABELS["train"], med["train"], times["train"], "scan floor", floor, r_a,
                    "<= 2.0", "PASS" if r_a <= 2.0 else "FAIL", key="train", sql=SQL["train"]))
    for k in ("train_table", "train_all"):
        rows.append(row(LABELS[k], med[k], times[k], "scan floor", floor, med[k] / floor,
                        key=k, sql=SQL[k]))
    doc["train_metrics"] = {k: metrics_of(keep.get(k)) for k in ("train", "train_table",
                                                                "train_all")}
    doc["parallel"] = {"workers_seen_in_warmup": seen}

    # ---- (b) predict vs the inline formula ------------------------------------------------
    log("\n(b) predict vs. the same formula inline")
    coefs = coefficients(conn, "bench_linear")
    SQL["inline"] = inline_sql(coefs)
    keys = ["inline", "predict", "predict_row"]
    seen_b = warmup_watch(conn, keys, SQL, keep) if benchlib.WARMUPS > 0 else {}
    log("  warm-up done; parallel workers seen (pg_stat_activity): %s" % seen_b)
    seen.update(seen_b)
    times = benchlib.measure([(k, sql_timer(conn, SQL[k], keep, k)) for k in keys],
                             warmups=0, log=log)
    med_b = {k: benchlib.median(v) for k, v in times.items()}
    med.update(med_b)
    inline = med_b["inline"]
    rows.append(row(LABELS["inline"], inline, times["inline"], key="inline", sql=SQL["inline"]))
    r_b = med_b["predict"] / inline
    rows.append(row(LABELS["predict"], med_b["predict"], times["predict"], "inline formula",
                    inline, r_b, "<= 1.5", "PASS" if r_b <= 1.5 else "FAIL", key="predict",
                    sql=SQL["predict"]))
    rows.append(row(LABELS["predict_row"], med_b["predict_row"], times["predict_row"],
                    "inline formula", inline, med_b["predict_row"] / inline, key="predict_row",
                    sql=SQL["predict_row"]))
    s_inline = keep["inline"][0][0]
    agree = {k: abs(keep[k][0][0] - s_inline) / abs(s_inline) for k in ("predict", "predict_row")}
    doc["predict_sums"] = {"inline": s_inline, "predict": keep["predict"][0][0],
                           "predict_row": keep["predict_row"][0][0], "rel_diff": agree}
    log("  sums agree: inline %.17g, relative difference predict %.1e, predict(row) %.1e" % (
        s_inline, agree["predict"], agree["predict_row"]))

    # ---- side run: no parallel query ------------------------------------------------------
    plans = train_pass_plans(SQL["train_serial"])
    doc["parallel"]["train_pass_plans"] = plans
    doc["parallel"]["explain"] = {k: explain_workers(conn, SQL[k])
                                  for k in ("floor", "inline", "predict")}
    if not args.no_serial:
        log("\nside run: SET max_parallel_workers_per_gather = 0")
        cs = benchlib.connect()
        benchlib.run_sql(cs, "SET max_parallel_workers_per_gather = 0")
        skeys = [("floor", SQL["floor"]), ("train", SQL["train_serial"]),
                 ("inline", SQL["inline"]), ("predict", SQL["predict"])]
        st = benchlib.measure([(k, sql_timer(cs, s)) for k, s in skeys], log=log)
        cs.close()
        smed = {k: benchlib.median(v) for k, v in st.items()}
        rows.append(row("[serial] " + LABELS["floor"], smed["floor"], st["floor"],
                        "parallel scan floor", floor, smed["floor"] / floor, key="serial_floor"))
        rows.append(row("[serial] train, SELECT source", smed["train"], st["train"],
                        "[serial] scan floor", smed["floor"], smed["train"] / smed["floor"],
                        key="serial_train"))
        rows.append(row("[serial] inline formula", smed["inline"], st["inline"],
                        "parallel inline formula", inline, smed["inline"] / inline,
                        key="serial_inline"))
        rows.append(row("[serial] predict(project, float8[])", smed["predict"], st["predict"],
                        "[serial] inline formula", smed["inline"],
                        smed["predict"] / smed["inline"], key="serial_predict"))
        doc["parallel"]["speedup_parallel_vs_serial"] = {
            k: smed[k] / med[k] for k in ("floor", "train", "inline", "predict")}

    # ---- (c) scikit-learn -------------------------------------------------------------------
    coef_check = None
    if not args.no_sklearn:
        log("\n(c) scikit-learn LinearRegression (%s)" % sys.executable)
        ce = benchlib.connect(autocommit=False)
        methods = ("copy",) if args.no_cursor else ("copy", "cursor")
        sk = sklearn_linear.run(ce, methods=methods, log=log)
        ce.close()
        blas = sklearn_linear.blas_info()
        em = {m: benchlib.median(v) for m, v in sk["export_ms"].items()}
        fit_ms = benchlib.median(sk["fit_ms"])
        total_ms = benchlib.median(sk["total_ms"])
        chosen = sk["export_method"]
        for m in methods:
            rows.append(row("sklearn export, %s%s" % (
                sklearn_linear.EXPORT_LABELS[m], " (faster)" if m == chosen and
                len(methods) > 1 else ""), em[m], sk["export_ms"][m], key="sk_export_" + m))
        rows.append(row("sklearn fit alone (LinearRegression)", fit_ms, sk["fit_ms"],
                        key="sk_fit"))
        rows.append(row("sklearn export (%s) + fit" % sklearn_linear.EXPORT_LABELS[chosen],
                        total_ms, sk["total_ms"], key="sk_total"))
        rows.append(row("train (default) / sklearn fit alone", med["train"], None,
                        "sklearn fit alone", fit_ms, med["train"] / fit_ms, key="train_vs_fit"))
        rows.append(row("train (default) / sklearn export+fit", med["train"], None,
                        "sklearn export+fit", total_ms, med["train"] / total_ms,
                        key="train_vs_total"))
        rows.append(row("train test_size=>0 / sklearn fit alone", med["train_all"], None,
                        "sklearn fit alone", fit_ms, med["train_all"] / fit_ms,
                        key="train_all_vs_fit"))
        # coefficients: aifactory on every row (test_size => 0) vs sklearn on every row
        ours = coefficients(conn, "bench_linear_all")
        theirs = {"intercept": sk["intercept"]}
        theirs.update(zip(FEATURES, sk["coef"]))
        rel = {}
        for name, t in theirs.items():
            o = ours[name]
            rel[name] = abs(o - t) / max(abs(o), abs(t)) if (o or t) else 0.0
        worst = max(rel, key=rel.get)
        coef_check = rel[worst]
        rows.append(row("coefficients vs sklearn: max rel. diff", None, None,
                        "sklearn (same rows)", None, coef_check, "<= 1e-6",
                        "PASS" if coef_check <= 1e-6 else "FAIL", key="coef_rel_diff",
                        ratio_text="%.1e" % coef_check, note="worst term: %s" % worst))
        doc["sklearn"] = {
            "python": sys.executable, "export_method": chosen,
            "export_ms": sk["export_ms"], "fit_ms": sk["fit_ms"], "total_ms": sk["total_ms"],
            "rows": sk["rows"], "cols": sk["cols"], "blas": blas,
            "blas_summary": sklearn_linear.blas_summary(blas)}
        doc["coefficients"] = {"aifactory_project": "bench_linear_all", "aifactory": ours,
                               "sklearn": theirs, "rel_diff": rel, "max_rel_diff": coef_check,
                               "worst_term": worst}
    conn.close()

    # ---- report -----------------------------------------------------------------------------
    log("\n==== aifactory linear benchmark: %s, %s cores, %s rows; median of %d runs ====" % (
        doc["date"], doc["machine"]["cores"], nrows, benchlib.RUNS))
    benchlib.print_table(rows, log)
    log("")
    p = doc["parallel"]
    tp = p.get("train_pass_plans") or []
    log("parallel: train's scan (auto_explain of its nested query): %s" % (
        ", ".join("workers planned %d, launched %d" % (x["workers_planned"],
                                                       x["workers_launched"]) for x in tp)
        or "no plan seen"))
    log("parallel: workers seen in pg_stat_activity during the warm-ups: %s" % ", ".join(
        "%s %d" % kv for kv in p["workers_seen_in_warmup"].items()))
    log("parallel: EXPLAIN ANALYZE workers launched: %s" % ", ".join(
        "%s %d%s" % (k, v["workers_launched"], " (JIT)" if v["jit"] else "")
        for k, v in p["explain"].items()))
    if "speedup_parallel_vs_serial" in p:
        log("parallel: speed-up over max_parallel_workers_per_gather = 0: %s" % ", ".join(
            "%s x%.2f" % kv for kv in p["speedup_parallel_vs_serial"].items()))
    tm = doc["train_metrics"]["train"]
    log("train (default): %s" % ", ".join("%s=%s" % kv for kv in tm.items()))
    log("load average before the measurements %s (others' load: this benchmark itself keeps"
        " both cores busy; %s at the end)" % (
            " ".join(doc["machine"].get("loadavg_at_start") or []),
            " ".join(benchlib.loadavg() or [])))
    if "sklearn" in doc:
        log("sklearn: export by %s; BLAS: %s" % (
            sklearn_linear.EXPORT_LABELS[doc["sklearn"]["export_method"]],
            doc["sklearn"]["blas_summary"]))
        log("coefficients: aifactory test_size => 0 vs sklearn, max relative difference "
            "%.2e (%s)" % (coef_check, doc["coefficients"]["worst_term"]))
    targets = [{"target": "(a) train / scan floor <= 2.0", "value": r_a,
                "verdict": "PASS" if r_a <= 2.0 else "FAIL"},
               {"target": "(b) predict / inline formula <= 1.5", "value": r_b,
                "verdict": "PASS" if r_b <= 1.5 else "FAIL"}]
    if coef_check is not None:
        targets.append({"target": "(c) coefficients vs sklearn, max relative difference <= 1e-6",
                        "value": coef_check,
                        "verdict": "PASS" if coef_check <= 1e-6 else "FAIL"})
    log("")
    for t in targets:
        log("%s %s: %s" % (t["verdict"], t["target"],
                           ("%.2e" if t["value"] < 0.01 else "%.2f") % t["value"]))
    doc["measurements"] = rows
    doc["targets"] = targets
    doc["seconds"] = round(time.time() - started, 1)
    doc["machine"]["loadavg_at_end"] = benchlib.loadavg()
    benchlib.write_json(args.out, doc)
    log("\nwrote %s (%.0f s)" % (args.out, doc["seconds"]))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""aifactory tree-ensemble benchmark: the measurements.  bench/trees.sh sets up the cluster
and the bench table and runs this with /usr/bin/python3; it can also run alone against any
database holding the bench table and the extension (libpq environment: PGHOST, PGPORT,
PGUSER, PGDATABASE).

    (1) gbdt on bench (1M x 20, target label; 100 trees, depth 6, learning rate 0.3): the
        whole default train() call (scan included) vs. xgboost.train(tree_method='hist',
        nthread=1) fit alone on the 750k rows of bench_train, already in memory (a fresh
        DMatrix each run, built before the timing)                      target ratio <= 1.0
        accuracy on the same held-out quarter (bench_test: id % 4 = 0)  target |diff| <= 0.3 pp
    (2) prediction over the 1M rows of bench in SQL, sum(predict(...)), on one core
        (max_parallel_workers_per_gather = 0) vs. Booster.predict(DMatrix) with nthread=1
        (DMatrix built before the timing)                               target ratio <= 1.5
        beside it, without target: the same statement with PostgreSQL's parallel query and
        XGBoost with its default threads
    (3) random_forest on bench_train (100 trees, max_depth 12) vs. sklearn
        RandomForestClassifier(n_estimators=100, max_depth=12, n_jobs=1): time and accuracy
        on bench_test, no target
    (4) accuracy / r2 on Debian's bundled sklearn data sets against XGBoost and sklearn's
        random forests (bench/datasets_trees.py), no target

Writes the tables to stdout and the same as JSON to bench/out/trees.json (or --out).
"""

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import row  # noqa: E402
import classify  # noqa: E402  (split tables, timers, train_memory, DEBUG1 phases)
import datasets  # noqa: E402  (print_grid)
import datasets_trees  # noqa: E402
import sklearn_linear  # noqa: E402  (binary COPY export)

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = classify.FEATURES
FLIST = classify.FLIST
FARRAY = classify.FARRAY

# 3 timed runs after 1 warm-up; the random forest (sklearn needs 7-10 minutes for one
# one-thread fit of 100 depth-12 trees on 750k rows) 1 timed run and no warm-up
RUNS = int(os.environ.get("AIF_BENCH_RUNS", "3"))
WARMUPS = int(os.environ.get("AIF_BENCH_WARMUPS", "1"))
RF_RUNS = int(os.environ.get("AIF_BENCH_RF_RUNS", "1"))
RF_WARMUPS = int(os.environ.get("AIF_BENCH_RF_WARMUPS", "0"))

TIME_TARGET = 1.0
ACC_TARGET_PP = 0.3
PREDICT_TARGET = 1.5

N_TREES = 100
HP_GBDT = ('{"objective": "binary:logistic", "n_estimators": %d, "max_depth": 6,'
           ' "learning_rate": 0.3}' % N_TREES)
XGB_PARAMS = {"tree_method": "hist", "max_depth": 6, "eta": 0.3,
              "objective": "binary:logistic", "max_bin": 256}
HP_RF = '{"n_estimators": 100, "max_depth": 12, "criterion": "gini"}'

SQL = {
    "floor": "SELECT sum(%s + label) FROM bench" % " + ".join(FEATURES),
    "floor20": "SELECT sum(%s) FROM bench" % " + ".join(FEATURES),
    # the target's "whole call": the default call on the full table
    "train": ("SELECT * FROM aifactory.train('bench_gbdt', 'SELECT %s, label FROM bench',"
              " 'label', 'gbdt', '%s', seed => 1, deploy => 'latest')" % (FLIST, HP_GBDT)),
    # the same-split call: every row of bench_train, scored afterwards on bench_test
    "train_split": ("SELECT * FROM aifactory.train('bench_gbdt_split', 'SELECT %s, label FROM"
                    " bench_train', 'label', 'gbdt', '%s', test_size => 0, seed => 1,"
                    " deploy => 'latest')" % (FLIST, HP_GBDT)),
    "rf": ("SELECT * FROM aifactory.train('bench_rf', 'SELECT %s, label FROM bench_train',"
           " 'label', 'random_forest', '%s', test_size => 0, seed => 1, deploy => 'latest')"
           % (FLIST, HP_RF)),
}
# prediction over the whole table, by the model of the same-split call (%d: its version)
PRED_SQL = ("SELECT sum(aifactory.predict('bench_gbdt_split', %%d, %s)) FROM bench" % FARRAY)
PROBA_SQL = ("SELECT sum((aifactory.predict_proba('bench_gbdt_split', %%d, %s))[2]) FROM bench"
             % FARRAY)

log = classify.log
timed = classify.timed
sql_timer = classify.sql_timer
metrics_of = classify.metrics_of
verdict = classify.verdict


def xgb_params(nthread):
    """XGB_PARAMS with nthread (0: XGBoost's default, every core)."""
    p = dict(XGB_PARAMS)
    if nthread:
        p["nthread"] = nthread
    return p


def plan_info(conn, sql, analyze=True):
    """Workers planned / launched and JIT of `sql`, from EXPLAIN (FORMAT JSON) (ANALYZE with
    TIMING OFF runs it once more)."""
    opts = "ANALYZE, TIMING OFF, FORMAT JSON" if analyze else "FORMAT JSON"
    _ms, [(doc,)] = benchlib.run_sql(conn, "EXPLAIN (%s) %s" % (opts, sql))
    if isinstance(doc, str):
        doc = json.loads(doc)
    top = doc[0]
    info = {"workers_planned": 0, "workers_launched": 0 if analyze else None,
            "node": top["Plan"]["Node Type"]}

    def walk(node):
        if "Workers Planned" in node:
            info["workers_planned"] = max(info["workers_planned"], node["Workers Planned"])
        if analyze and "Workers Launched" in node:
            info["workers_launched"] = max(info["workers_launched"], node["Workers Launched"])
        for child in node.get("Plans", []):
            walk(child)
    walk(top["Plan"])
    jit = top.get("JIT")
    info["jit_functions"] = jit.get("Functions") if jit else 0
    return info


def fmt_plan(p):
    return "%s, workers planned %s, launched %s, JIT functions %s" % (
        p["node"], p["workers_planned"], p["workers_launched"], p["jit_functions"])


def kilo(n):
    """1000000 -> '1M', 750000 -> '750k'."""
    if n >= 1000000 and n % 100000 == 0:
        return ("%.1fM" % (n / 1e6)).replace(".0M", "M")
    return "%dk" % (n // 1000) if n >= 1000 and n % 1000 == 0 else str(n)


def export(query, ncols):
    ce = benchlib.connect(autocommit=False)
    try:
        return timed(sklearn_linear.export_copy, ce, query, ncols)
    finally:
        ce.close()


# ---- (1) gbdt training and accuracy -------------------------------------------------------

def gbdt(conn, rows, quality, doc, args):
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    log("\n(1) gbdt on bench, target label: %d trees, max_depth 6, learning rate 0.3" % N_TREES)
    ms_split = 0.0
    for s in classify.SPLIT_SQL:
        ms_split += benchlib.run_sql(conn, s)[0]
    _ms, [(ntr, nte, pos)] = benchlib.run_sql(
        conn, "SELECT (SELECT count(*) FROM bench_train), (SELECT count(*) FROM bench_test),"
        " (SELECT avg(label) FROM bench)")
    log("  bench_train (id %% 4 <> 0): %d rows, bench_test (id %% 4 = 0): %d rows, made in "
        "%.0f ms; share of label = 1: %.4f" % (ntr, nte, ms_split, float(pos)))

    q = "SELECT %s, label::float8 FROM %s"
    ms_exp_tr, a = export(q % (FLIST, "bench_train"), 21)
    Xtr, ytr = a[:, :20].copy(), a[:, 20].astype(np.int64)
    del a
    ms_exp_te, a = export(q % (FLIST, "bench_test") + " ORDER BY id", 21)
    Xte, yte = a[:, :20].copy(), a[:, 20].astype(np.int64)
    del a
    ms_dm, dm = timed(lambda: xgb.DMatrix(Xtr, label=ytr))
    del dm
    log("  XGBoost side: binary COPY export of bench_train %.0f ms, bench_test %.0f ms (once "
        "each); DMatrix of bench_train %.0f ms (built afresh before every timed fit, not "
        "timed: XGBoost caches the quantile sketch of a DMatrix across train() calls)" % (
            ms_exp_tr, ms_exp_te, ms_dm))

    keep = {}

    def xgb_fit(nthread, key):
        keep[key] = []

        def fn():
            keep[key] = []  # one booster at a time
            d = xgb.DMatrix(Xtr, label=ytr)
            t0 = time.perf_counter()
            b = xgb.train(xgb_params(nthread), d, N_TREES)
            ms = (time.perf_counter() - t0) * 1000.0
            keep[key].append(b)
            return ms
        return fn

    items = [
        ("floor", sql_timer(conn, SQL["floor"], keep, "floor")),
        ("train", sql_timer(conn, SQL["train"], keep, "train")),
        ("train_split", sql_timer(conn, SQL["train_split"], keep, "train_split")),
        ("xgb_1t", xgb_fit(1, "xgb_1t")),
        ("xgb", xgb_fit(0, "xgb")),
    ]
    log("  %d timed runs after %d warm-up, interleaved: %s" % (
        RUNS, WARMUPS, ", ".join(k for k, _ in items)))
    times = benchlib.measure(items, runs=RUNS, warmups=WARMUPS, log=log)
    med = {k: benchlib.median(v) for k, v in times.items()}

    r_time = med["train"] / med["xgb_1t"]
    rows.append(row("scan floor: sum(f1+..+f20+label) FROM bench", med["floor"],
                    times["floor"], key="floor", sql=SQL["floor"]))
    rows.append(row("XGBoost hist fit alone, %s rows, nthread=1" % kilo(ntr), med["xgb_1t"],
                    times["xgb_1t"], key="xgb_1t",
                    note="xgboost.train(%s, DMatrix(bench_train), %d); DMatrix not timed"
                    % (xgb_params(1), N_TREES)))
    rows.append(row("XGBoost hist fit alone, default threads", med["xgb"], times["xgb"],
                    "XGBoost 1 thread", med["xgb_1t"], med["xgb"] / med["xgb_1t"], key="xgb"))
    rows.append(row("train gbdt, default call on bench (whole call)", med["train"],
                    times["train"], "XGBoost fit alone, 1 thread", med["xgb_1t"], r_time,
                    "<= %.1f" % TIME_TARGET, verdict(r_time <= TIME_TARGET), key="train",
                    sql=SQL["train"]))
    rows.append(row("the same", med["train"], None, "XGBoost fit alone, default threads",
                    med["xgb"], med["train"] / med["xgb"], key="train_vs_xgb_default"))
    rows.append(row("train gbdt on bench_train, test_size => 0", med["train_split"],
                    times["train_split"], "XGBoost fit alone, 1 thread", med["xgb_1t"],
                    med["train_split"] / med["xgb_1t"], key="train_split",
                    sql=SQL["train_split"]))
    rows.append(row("train (default) / scan floor", med["train"], None, "scan floor",
                    med["floor"], med["train"] / med["floor"], key="train_vs_floor"))
    rows.append(row("train (default) / (export + DMatrix + fit, 1 thread)", med["train"], None,
                    "XGBoost export + DMatrix + fit", ms_exp_tr + ms_dm + med["xgb_1t"],
                    med["train"] / (ms_exp_tr + ms_dm + med["xgb_1t"]),
                    key="train_vs_export_fit",
                    note="export of bench_train by binary COPY and its DMatrix, timed once"))

    breakdown = None
    if not args.no_phases:
        ms_b, passes, brow = classify.nested_durations(conn, SQL["train"])
        bm = metrics_of(brow)
        breakdown = {"call_ms": ms_b, "pass_ms": passes,
                     "fit_seconds_metric": bm.get("fit_seconds"),
                     "rest_ms": ms_b - sum(passes)}
        log("  phases of one more default call (auto_explain, log_analyze off): whole %.0f ms;"
            " passes over the source %s ms; the rest (binning, boosting, test-row metrics, "
            "registry) %.0f ms; metrics fit_seconds %s" % (
                ms_b, " + ".join("%.0f" % p for p in passes) or "none seen",
                ms_b - sum(passes), bm.get("fit_seconds")))
        ms_s, passes_s, srow = classify.nested_durations(conn, SQL["train_split"])
        breakdown["split_call_ms"] = ms_s
        breakdown["split_pass_ms"] = passes_s
        log("  phases of one more same-split call (test_size => 0): whole %.0f ms; nested "
            "passes over the source %s ms; the rest %.0f ms; metrics fit_seconds %s" % (
                ms_s, " + ".join("%.0f" % p for p in passes_s) or "none seen",
                ms_s - sum(passes_s), metrics_of(srow).get("fit_seconds")))

    # accuracy on the same split
    split_rows = keep["train_split"][-1]
    version = split_rows[0][1]
    psql = ("SELECT avg((aifactory.predict('bench_gbdt_split', %d, %s) = label)::int::float8)"
            " FROM bench_test" % (version, FARRAY))
    ms_acc, [(acc_ours,)] = benchlib.run_sql(conn, psql)
    _ms, prow = benchlib.run_sql(
        conn, "SELECT aifactory.predict('bench_gbdt_split', %d, %s),"
        " (aifactory.predict_proba('bench_gbdt_split', %d, %s))[2] FROM bench_test ORDER BY id"
        % (version, FARRAY, version, FARRAY))
    ours_pred = np.array([r[0] for r in prow], dtype=np.float64)
    ours_p = np.array([r[1] for r in prow], dtype=np.float64)
    booster = keep["xgb_1t"][-1]
    booster.set_param({"nthread": 1})
    xp = booster.predict(xgb.DMatrix(Xte))
    xgb_pred = (xp > 0.5).astype(np.float64)
    acc_xgb = float(np.mean(xgb_pred == yte))
    acc_ours_py = float(np.mean(ours_pred == yte))
    differ = int(np.sum(ours_pred != xgb_pred))
    diff_pp = 100.0 * (acc_ours - acc_xgb)
    auc_ours, auc_xgb = roc_auc_score(yte, ours_p), roc_auc_score(yte, xp)
    max_pdiff = float(np.max(np.abs(ours_p - xp)))
    mtr = metrics_of(keep["train"][-1])
    msp = metrics_of(split_rows)
    quality.append({
        "key": "gbdt_accuracy", "what": "gbdt, bench_test (id % 4 = 0, 250k rows)",
        "metric": "accuracy", "aifactory": acc_ours, "peer": acc_xgb,
        "peer_name": "XGBoost hist",
        "difference_text": "%+.3f pp" % diff_pp, "difference": diff_pp,
        "target": "|diff| <= %.1f pp" % ACC_TARGET_PP,
        "verdict": verdict(abs(diff_pp) <= ACC_TARGET_PP),
        "note": "%d of %d predictions differ" % (differ, len(yte))})
    quality.append({
        "key": "gbdt_roc_auc", "what": "gbdt, bench_test, from predict_proba",
        "metric": "roc_auc", "aifactory": auc_ours, "peer": auc_xgb,
        "peer_name": "XGBoost hist", "difference_text": "%+.5f" % (auc_ours - auc_xgb),
        "difference": auc_ours - auc_xgb, "target": "", "verdict": "",
        "note": "max |P(1) diff| %.3f" % max_pdiff})
    log("  accuracy on bench_test: aifactory %.6f (predict() in SQL, %.0f ms; %.6f recomputed "
        "in Python), XGBoost %.6f: %+.3f pp; %d of %d predictions differ; ROC AUC %.5f vs "
        "%.5f; max |P(label=1) difference| %.3f" % (
            acc_ours, ms_acc, acc_ours_py, acc_xgb, diff_pp, differ, len(yte), auc_ours,
            auc_xgb, max_pdiff))
    log("  default call's own metrics (its random 25 %%, %s test rows): accuracy %s, roc_auc %s,"
        " log_loss %s, n_trees %s, fit_seconds %s" % (
            mtr.get("test_rows"), mtr.get("accuracy"), mtr.get("roc_auc"), mtr.get("log_loss"),
            mtr.get("n_trees"), mtr.get("fit_seconds")))
    doc["gbdt"] = {
        "rows_train": ntr, "rows_test": nte, "split_rule": "id % 4 = 0 -> bench_test",
        "export_ms": {"bench_train": ms_exp_tr, "bench_test": ms_exp_te},
        "dmatrix_ms": ms_dm, "medians_ms": med, "runs_ms": times,
        "xgboost_params": xgb_params(1), "xgboost_rounds": N_TREES,
        "xgboost_timed": "xgboost.train(params, DMatrix(bench_train), %d) on a DMatrix built "
        "afresh (untimed) before every run, so the quantile sketch is timed every run; "
        "nthread=1 (the target's peer) and XGBoost's default (every core)" % N_TREES,
        "metrics_default_call": mtr, "metrics_split_call": msp,
        "fit_seconds_default_runs": [metrics_of(r).get("fit_seconds") for r in keep["train"]],
        "breakdown": breakdown,
        "accuracy": {"aifactory": acc_ours, "aifactory_recomputed": acc_ours_py,
                     "xgboost": acc_xgb, "diff_pp": diff_pp, "differing_predictions": differ,
                     "roc_auc_aifactory": auc_ours, "roc_auc_xgboost": auc_xgb,
                     "max_abs_proba_diff": max_pdiff, "aifactory_version": version,
                     "predict_sql": psql, "predict_ms": ms_acc}}
    return {"time_ratio": r_time, "acc_diff_pp": diff_pp, "version": version,
            "booster": booster, "Xtr": Xtr, "ytr": ytr, "Xte": Xte, "yte": yte}


# ---- (2) prediction over the 1M rows ------------------------------------------------------

def prediction(conn, rows, doc, args, g):
    import xgboost as xgb

    version, booster = g["version"], g["booster"]
    log("\n(2) prediction over every row of bench: the same-split model (bench_gbdt_split "
        "version %d) in SQL vs. its XGBoost twin (fitted on bench_train, 1 thread)" % version)
    ms_exp, X = export("SELECT %s FROM bench" % FLIST, 20)
    ms_dm, dm = timed(xgb.DMatrix, X)
    del dm
    log("  XGBoost side: binary COPY export of bench's 20 features %.0f ms, DMatrix %.0f ms "
        "(built afresh before every timed predict, not timed: a Booster caches its "
        "predictions for a DMatrix it has seen)" % (ms_exp, ms_dm))

    cs = benchlib.connect()
    benchlib.run_sql(cs, "SET max_parallel_workers_per_gather = 0")
    pred_sql, proba_sql = PRED_SQL % version, PROBA_SQL % version
    plans = {"predict_parallel": plan_info(conn, pred_sql),
             "predict_serial": plan_info(cs, pred_sql),
             "predict_proba_serial": plan_info(cs, proba_sql, analyze=False)}
    for k, p in plans.items():
        log("  plan of %s: %s" % (k, fmt_plan(p)))
    par = plans["predict_parallel"]
    went_parallel = bool(par["workers_launched"])

    keep = {}

    def xgb_pred(nthread, key):
        keep[key] = []

        def fn():
            d = xgb.DMatrix(X)
            booster.set_param({"nthread": nthread})
            t0 = time.perf_counter()
            p = booster.predict(d)
            ms = (time.perf_counter() - t0) * 1000.0
            keep[key] = [(float(np.sum(p > 0.5)), float(np.sum(p, dtype=np.float64)))]
            return ms
        return fn

    items = [
        ("predict", sql_timer(conn, pred_sql, keep, "predict")),
        ("predict_serial", sql_timer(cs, pred_sql, keep, "predict_serial")),
        ("proba_serial", sql_timer(cs, proba_sql, keep, "proba_serial")),
        ("floor20_serial", sql_timer(cs, SQL["floor20"], keep, "floor20_serial")),
        ("xgb_pred_1t", xgb_pred(1, "xgb_pred_1t")),
        ("xgb_pred", xgb_pred(0, "xgb_pred")),
    ]
    log("  %d timed runs after %d warm-up, interleaved: %s" % (
        RUNS, WARMUPS, ", ".join(k for k, _ in items)))
    times = benchlib.measure(items, runs=RUNS, warmups=WARMUPS, log=log)
    cs.close()
    booster.set_param({"nthread": 1})
    med = {k: benchlib.median(v) for k, v in times.items()}

    r_pred = med["predict_serial"] / med["xgb_pred_1t"]
    rows.append(row("XGBoost Booster.predict(DMatrix %s rows), nthread=1" % kilo(len(X)),
                    med["xgb_pred_1t"],
                    times["xgb_pred_1t"], key="xgb_pred_1t",
                    note="probabilities; DMatrix not timed"))
    rows.append(row("XGBoost predict, default threads", med["xgb_pred"], times["xgb_pred"],
                    "XGBoost 1 thread", med["xgb_pred_1t"],
                    med["xgb_pred"] / med["xgb_pred_1t"], key="xgb_pred"))
    rows.append(row("[one core] sum(predict(...)) FROM bench", med["predict_serial"],
                    times["predict_serial"], "XGBoost predict, 1 thread", med["xgb_pred_1t"],
                    r_pred, "<= %.1f" % PREDICT_TARGET, verdict(r_pred <= PREDICT_TARGET),
                    key="predict_serial", sql="SET max_parallel_workers_per_gather = 0; "
                    + pred_sql))
    rows.append(row("[one core] sum(predict_proba(...)[2]) FROM bench", med["proba_serial"],
                    times["proba_serial"], "XGBoost predict, 1 thread", med["xgb_pred_1t"],
                    med["proba_serial"] / med["xgb_pred_1t"], key="proba_serial",
                    sql=proba_sql))
    rows.append(row("[one core] scan floor sum(f1+..+f20) FROM bench", med["floor20_serial"],
                    times["floor20_serial"], key="floor20_serial", sql=SQL["floor20"]))
    label = "[parallel, %s workers] sum(predict(...))" % par["workers_launched"] \
        if went_parallel else "[parallel allowed, ran serially] sum(predict(...))"
    rows.append(row(label, med["predict"], times["predict"], "XGBoost predict, default threads",
                    med["xgb_pred"], med["predict"] / med["xgb_pred"], key="predict",
                    sql=pred_sql))
    rows.append(row("the same", med["predict"], None, "XGBoost predict, 1 thread",
                    med["xgb_pred_1t"], med["predict"] / med["xgb_pred_1t"],
                    key="predict_vs_xgb_1t"))

    ours_sum = float(keep["predict"][-1][0][0])
    ours_psum = float(keep["proba_serial"][-1][0][0])
    xgb_lsum, xgb_psum = keep["xgb_pred_1t"][-1]
    log("  sums over every row: predicted labels aifactory %.0f, XGBoost %.0f (difference %+.0f);"
        " P(label=1) aifactory %.3f, XGBoost %.3f" % (ours_sum, xgb_lsum, ours_sum - xgb_lsum,
                                                      ours_psum, xgb_psum))
    doc["prediction"] = {
        "version": version, "export_ms": ms_exp, "dmatrix_ms": ms_dm, "medians_ms": med,
        "runs_ms": times, "plans": plans, "went_parallel": went_parallel,
        "sql": {"predict": pred_sql, "predict_proba": proba_sql},
        "sums": {"aifactory_labels": ours_sum, "xgboost_labels": xgb_lsum,
                 "aifactory_proba": ours_psum, "xgboost_proba": xgb_psum},
        "verdict_uses": "one core (max_parallel_workers_per_gather = 0) vs XGBoost nthread=1",
        "xgboost_timed": "Booster.predict(DMatrix(1M x 20)) on a DMatrix built afresh "
        "(untimed) before every run; nthread=1 (the target's peer) and 0 (every core)"}
    return {"ratio": r_pred, "parallel": went_parallel,
            "parallel_ratio": med["predict"] / med["xgb_pred"]}


# ---- (3) random forest --------------------------------------------------------------------

def forest(conn, rows, quality, doc, args, g):
    from sklearn.ensemble import RandomForestClassifier

    log("\n(3) random_forest on bench_train (%s rows): 100 trees, max_depth 12" % kilo(len(g["ytr"])))
    Xtr, ytr, Xte, yte = g["Xtr"], g["ytr"], g["Xte"], g["yte"]
    keep = {}
    items = [("rf", sql_timer(conn, SQL["rf"], keep, "rf")),
             ("sk_rf", classify.py_timer(
                 lambda: RandomForestClassifier(n_estimators=100, max_depth=12, n_jobs=1,
                                                random_state=0).fit(Xtr, ytr),
                 keep, "sk_rf"))]
    log("  %d timed run(s) after %d warm-up (sklearn's one-thread fit takes minutes), "
        "interleaved: %s" % (RF_RUNS, RF_WARMUPS, ", ".join(k for k, _ in items)))
    times = benchlib.measure(items, runs=RF_RUNS, warmups=RF_WARMUPS, log=log)
    med = {k: benchlib.median(v) for k, v in times.items()}
    rows.append(row("sklearn RandomForestClassifier fit alone, n_jobs=1", med["sk_rf"],
                    times["sk_rf"], key="sk_rf",
                    note="RandomForestClassifier(n_estimators=100, max_depth=12, n_jobs=1, "
                    "random_state=0).fit on bench_train"))
    rows.append(row("train random_forest on bench_train, test_size => 0", med["rf"],
                    times["rf"], "sklearn fit alone, 1 thread", med["sk_rf"],
                    med["rf"] / med["sk_rf"], key="rf", sql=SQL["rf"]))

    version = keep["rf"][-1][0][1]
    psql = ("SELECT avg((aifactory.predict('bench_rf', %d, %s) = label)::int::float8)"
            " FROM bench_test" % (version, FARRAY))
    ms_acc, [(acc_ours,)] = benchlib.run_sql(conn, psql)
    sk = keep["sk_rf"][-1]
    t0 = time.perf_counter()
    sk_pred = sk.predict(Xte)
    ms_skp = (time.perf_counter() - t0) * 1000.0
    acc_sk = float(np.mean(sk_pred == yte))
    diff_pp = 100.0 * (acc_ours - acc_sk)
    quality.append({
        "key": "rf_accuracy", "what": "random_forest, bench_test (250k rows)",
        "metric": "accuracy", "aifactory": acc_ours, "peer": acc_sk,
        "peer_name": "sklearn RandomForestClassifier",
        "difference_text": "%+.3f pp" % diff_pp, "difference": diff_pp, "target": "",
        "verdict": "", "note": "different bootstrap samples and feature draws"})
    m = metrics_of(keep["rf"][-1])
    log("  accuracy on bench_test: aifactory %.6f (predict() in SQL, %.0f ms), sklearn %.6f "
        "(its predict %.0f ms): %+.3f pp; n_trees %s, fit_seconds %s" % (
            acc_ours, ms_acc, acc_sk, ms_skp, diff_pp, m.get("n_trees"), m.get("fit_seconds")))
    doc["random_forest"] = {"medians_ms": med, "runs_ms": times, "runs": RF_RUNS,
                            "warmups": RF_WARMUPS, "metrics": m, "hyperparams": HP_RF,
                            "accuracy": {"aifactory": acc_ours, "sklearn": acc_sk,
                                         "diff_pp": diff_pp, "predict_sql": psql,
                                         "predict_ms": ms_acc, "sklearn_predict_ms": ms_skp}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "out", "trees.json"))
    ap.add_argument("--no-forest", action="store_true",
                    help="skip (3), the slow part (sklearn's one-thread fit takes minutes)")
    ap.add_argument("--no-datasets", action="store_true", help="skip (4)")
    ap.add_argument("--no-phases", action="store_true",
                    help="skip the extra default call timed by auto_explain in (1)")
    args = ap.parse_args()

    started = time.time()
    conn = benchlib.connect()
    _ms, [(version,)] = benchlib.run_sql(conn, "SELECT pg_catalog.version()")
    raised = classify.ensure_train_memory(conn, log)
    settings = {}
    for s in ("max_parallel_workers_per_gather", "max_parallel_workers", "shared_buffers",
              "work_mem", "maintenance_work_mem", "jit", "fsync", "synchronous_commit",
              "aifactory.train_memory", "aifactory.blas_threads"):
        try:
            settings[s] = benchlib.run_sql(conn, "SHOW " + s)[1][0][0]
        except Exception:
            conn.rollback()
    _ms, [(nrows, relsize)] = benchlib.run_sql(
        conn, "SELECT count(*), pg_catalog.pg_total_relation_size('bench') FROM bench")
    import sklearn
    import xgboost
    machine = benchlib.machine_info()
    log("PostgreSQL: %s" % version)
    log("bench: %d rows, %.0f MB; settings: %s" % (
        nrows, relsize / 1e6, ", ".join("%s=%s" % kv for kv in settings.items())))
    log("XGBoost %s, scikit-learn %s (%s); cores %s" % (
        xgboost.__version__, sklearn.__version__, sys.executable, machine["cores"]))
    log("load average before the measurements: %s" % " ".join(machine["loadavg_at_start"] or []))

    doc = {"benchmark": "trees",
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "machine": machine, "git": benchlib.git_commit(os.path.dirname(HERE)),
           "postgres": version, "settings": settings, "train_memory_raised": raised,
           "xgboost_version": xgboost.__version__, "sklearn_version": sklearn.__version__,
           "python": sys.executable, "table": {"rows": nrows, "bytes": relsize},
           "runs": RUNS, "warmups": WARMUPS, "rf_runs": RF_RUNS, "rf_warmups": RF_WARMUPS,
           "timing": "SQL: client wall clock (perf_counter) over a loopback TCP connection, "
           "whole statement including result transfer; XGBoost/sklearn: perf_counter around "
           "train()/fit()/predict() in this process on data already in memory (a fresh DMatrix "
           "built untimed before each run); median of the timed runs after the warm-ups; the "
           "measurements of one group interleaved"}
    rows, quality, targets = [], [], []

    g = gbdt(conn, rows, quality, doc, args)
    targets.append({"target": "(1) gbdt: train whole call / XGBoost hist fit alone (1 thread) "
                    "<= %.1f" % TIME_TARGET, "value": g["time_ratio"],
                    "text": "%.2f" % g["time_ratio"],
                    "verdict": verdict(g["time_ratio"] <= TIME_TARGET)})
    targets.append({"target": "(1) gbdt: accuracy on bench_test within %.1f pp of XGBoost"
                    % ACC_TARGET_PP, "value": g["acc_diff_pp"],
                    "text": "%+.3f pp" % g["acc_diff_pp"],
                    "verdict": verdict(abs(g["acc_diff_pp"]) <= ACC_TARGET_PP)})
    p = prediction(conn, rows, doc, args, g)
    targets.append({"target": "(2) predict over 1M rows in SQL, one core / XGBoost predict, "
                    "1 thread <= %.1f" % PREDICT_TARGET, "value": p["ratio"],
                    "text": "%.2f (parallel query vs XGBoost default threads: %.2f%s)" % (
                        p["ratio"], p["parallel_ratio"],
                        "" if p["parallel"] else ", but the plan stayed serial"),
                    "verdict": verdict(p["ratio"] <= PREDICT_TARGET)})
    if not args.no_forest:
        forest(conn, rows, quality, doc, args, g)
    del g
    if not args.no_datasets:
        log("\n(4) small data sets of Debian's python3-sklearn (bench/datasets_trees.py)")
        doc["datasets"] = datasets_trees.run(conn, log=log)
    conn.close()

    # ---- report -----------------------------------------------------------------------------
    log("\n==== aifactory tree-ensemble benchmark: %s, %s cores, %s ====" % (
        doc["date"], machine["cores"], doc["git"]))
    log("timings: median of %d runs after %d warm-up; random forest median of %d run(s) after "
        "%d warm-up" % (RUNS, WARMUPS, RF_RUNS, RF_WARMUPS))
    benchlib.print_table(rows, log)
    log("")
    datasets.print_grid(
        ("quality", "metric", "aifactory", "peer", "peer value", "difference", "target",
         "result", "note"),
        [(q["what"], q["metric"], "%.6f" % q["aifactory"], q["peer_name"], "%.6f" % q["peer"],
          q["difference_text"], q["target"], q["verdict"], q["note"]) for q in quality],
        right=(2, 4, 5), out=log)
    if "datasets" in doc:
        log("")
        datasets.print_grid(datasets_trees.GRID_HEADS, datasets_trees.grid_rows(doc["datasets"]),
                            datasets_trees.GRID_RIGHT, out=log)
    log("")
    log("load average before the measurements %s, at the end %s (this benchmark itself keeps "
        "up to both cores busy)" % (" ".join(machine.get("loadavg_at_start") or []),
                                    " ".join(benchlib.loadavg() or [])))
    log("")
    for t in targets:
        log("%s %s: %s" % (t["verdict"], t["target"], t["text"]))
    doc["measurements"] = rows
    doc["quality"] = quality
    doc["targets"] = targets
    doc["seconds"] = round(time.time() - started, 1)
    doc["machine"]["loadavg_at_end"] = benchlib.loadavg()
    benchlib.write_json(args.out, doc)
    log("\nwrote %s (%.0f s)" % (args.out, doc["seconds"]))


if __name__ == "__main__":
    main()

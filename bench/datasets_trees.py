#!/usr/bin/python3
"""aifactory's tree ensembles against XGBoost and scikit-learn on the small data sets shipped
by Debian's python3-sklearn (iris, wine, breast_cancer, digits, diabetes: files of the
package, no network).

The sets, their fixed 75/25 split and their tables ds_<set>_train / ds_<set>_test are those
of bench/datasets.py (its load_all: train_test_split(test_size=0.25, random_state=0),
stratified for the classification sets; float8 values through repr, exact).  Both sides fit
the same training rows and are scored on the same test rows:

  aifactory  train(..., test_size => 0, seed => 1) on ds_<set>_train, then
             predict(project, version, ARRAY[x1..xp]) over ds_<set>_test in SQL (fetched and
             scored in Python by the same sklearn.metrics function as the peer's)

  gbdt, XGBoost's defaults (n_estimators 100, max_depth 6, learning_rate 0.3, max_bin 256)
    classification  {"objective": "binary:logistic"} (breast_cancer) or
                    {"objective": "multi:softprob"} (iris, wine, digits): the integer target
                    would otherwise mean regression
                    vs xgboost.XGBClassifier(tree_method='hist', n_estimators=100, max_depth=6,
                       learning_rate=0.3, n_jobs=1)
    regression      {} vs xgboost.XGBRegressor(the same)
  random_forest, scikit-learn's defaults (n_estimators 100, max_depth None, bootstrap)
    classification  {"criterion": "gini"} vs RandomForestClassifier(n_estimators=100,
                                                                    random_state=0)
    regression      {} vs RandomForestRegressor(n_estimators=100, random_state=0)

Reported per pair: accuracy (classification) or r2 (regression) of each side, the
difference, how many test predictions differ and the largest |difference| of predict_proba
(classification) or of the predictions (regression).  No target: with 38 to 450 test rows one
row is worth 0.2 to 2.6 points, and the random forests draw different bootstrap samples and
feature subsets on the two sides.

Used by bench/trees.py; also runs alone against any database with the extension (libpq
environment):  /usr/bin/python3 bench/datasets_trees.py [--drop-tables]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import datasets  # noqa: E402  (the sets, their split and tables, the grid printer)

OBJECTIVE = {"iris": "multi:softprob", "wine": "multi:softprob",
             "breast_cancer": "binary:logistic", "digits": "multi:softprob"}


def pairs():
    """(set, algorithm label, aifactory algorithm, hyperparams json, peer factory, peer
    description) for every comparison."""
    import xgboost
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    xgb_kw = dict(tree_method="hist", n_estimators=100, max_depth=6, learning_rate=0.3,
                  n_jobs=1)
    xgb_desc = "(tree_method='hist', n_estimators=100, max_depth=6, learning_rate=0.3, n_jobs=1)"
    out = []
    for s in datasets.SETS:
        if s in datasets.CLASSIFICATION:
            out.append((s, "gbdt", "gbdt", '{"objective": "%s"}' % OBJECTIVE[s],
                        lambda: xgboost.XGBClassifier(**xgb_kw), "XGBClassifier" + xgb_desc))
            out.append((s, "random_forest", "random_forest", '{"criterion": "gini"}',
                        lambda: RandomForestClassifier(n_estimators=100, random_state=0),
                        "RandomForestClassifier(n_estimators=100, random_state=0)"))
        else:
            out.append((s, "gbdt", "gbdt", "{}", lambda: xgboost.XGBRegressor(**xgb_kw),
                        "XGBRegressor" + xgb_desc))
            out.append((s, "random_forest", "random_forest", "{}",
                        lambda: RandomForestRegressor(n_estimators=100, random_state=0),
                        "RandomForestRegressor(n_estimators=100, random_state=0)"))
    return out


def run(conn, log=print, keep_tables=True):
    """Load the sets (bench/datasets.py), run every pair; returns a list of result dicts in
    the shape of datasets.run's (so datasets.grid_rows prints them)."""
    from sklearn.metrics import accuracy_score, r2_score

    log("  split: train_test_split(test_size=%.2f, random_state=%d, stratify=y for "
        "classification), same rows for both sides (bench/datasets.py)" % (
            datasets.TEST_SIZE, datasets.SPLIT_SEED))
    data = datasets.load_all(conn, log)
    results = []
    for name, label, algo, hp, make, desc in pairs():
        d = data[name]
        cls = name in datasets.CLASSIFICATION
        xs = ", ".join("x%d" % (j + 1) for j in range(d["p"]))
        project = "ds_%s_%s" % (name, "rf" if algo == "random_forest" else algo)
        train_sql = ("SELECT version, metrics FROM aifactory.train(%s, %s, 'target', %s, %s,"
                     " test_size => 0, seed => 1, deploy => 'latest')")
        source = "SELECT %s, target FROM ds_%s_train" % (xs, name)
        notices_before = len(conn.notices)
        ms_train, [(version, metrics)] = benchlib.run_sql(conn, train_sql,
                                                          (project, source, algo, hp))
        notices = [n.strip() for n in conn.notices[notices_before:]]
        ms_pred, prows = benchlib.run_sql(
            conn, "SELECT aifactory.predict(%%s, %%s, ARRAY[%s]) FROM ds_%s_test ORDER BY id" % (
                xs, name), (project, version))
        ours = np.array([r[0] for r in prows], dtype=np.float64)

        est = make()
        t0 = time.perf_counter()
        est.fit(d["X_train"], d["y_train"])
        peer_fit_ms = (time.perf_counter() - t0) * 1000.0
        theirs = np.asarray(est.predict(d["X_test"]), dtype=np.float64)
        y = d["y_test"]
        if cls:
            metric = "accuracy"
            a, b = accuracy_score(y, ours), accuracy_score(y, theirs)
            agree = {"differing_predictions": int(np.sum(ours != theirs))}
            _ms, qrows = benchlib.run_sql(
                conn, "SELECT aifactory.predict_proba(%%s, %%s, ARRAY[%s]) FROM ds_%s_test"
                " ORDER BY id" % (xs, name), (project, version))
            pa = np.array([r[0] for r in qrows], dtype=np.float64)
            pb = est.predict_proba(d["X_test"])
            agree["max_abs_proba_diff"] = (float(np.max(np.abs(pa - pb)))
                                           if pa.shape == pb.shape else None)
        else:
            metric = "r2"
            a, b = r2_score(y, ours), r2_score(y, theirs)
            agree = {"max_abs_prediction_diff": float(np.max(np.abs(ours - theirs)))}
        r = {"set": name, "algorithm": label, "aifactory_algorithm": algo, "hyperparams": hp,
             "sklearn": desc, "peer": desc, "metric": metric, "aifactory": a,
             "sklearn_value": b, "difference": a - b, "test_rows": d["test_rows"],
             "train_rows": d["train_rows"], "aifactory_version": version,
             "aifactory_train_ms": ms_train, "aifactory_predict_ms": ms_pred,
             "peer_fit_ms": peer_fit_ms, "aifactory_n_trees": metrics.get("n_trees"),
             "aifactory_fit_seconds": metrics.get("fit_seconds"), "notices": notices}
        r.update(agree)
        results.append(r)
        log("  %-13s %-13s %-8s aifactory %.4f  peer %.4f  diff %+.4f  %s; train %.0f ms, "
            "peer fit %.0f ms%s" % (
                name, label, metric, a, b, a - b,
                ("%d of %d predictions differ, max |proba diff| %s" % (
                    agree["differing_predictions"], len(y),
                    datasets.fmt_e(agree["max_abs_proba_diff"])))
                if cls
                else ("max |prediction diff| %.2e" % agree["max_abs_prediction_diff"]),
                ms_train, peer_fit_ms,
                ("  NOTICE: " + " | ".join(notices)) if notices else ""))
    if not keep_tables:
        for name in datasets.SETS:
            benchlib.run_sql(conn, "DROP TABLE IF EXISTS ds_%s_train, ds_%s_test" % (name, name))
    return results


GRID_HEADS = ("data set", "aifactory algorithm", "peer", "metric", "aifactory", "peer",
              "difference", "predictions")
GRID_RIGHT = datasets.GRID_RIGHT


def grid_rows(results):
    """datasets.grid_rows with the peer's short name (XGBClassifier, RandomForestRegressor...)
    in place of its full call."""
    out = []
    for r, g in zip(results, datasets.grid_rows(results)):
        g = list(g)
        g[2] = r["peer"].split("(", 1)[0]
        out.append(tuple(g))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--drop-tables", action="store_true",
                    help="drop the ds_* tables at the end")
    args = ap.parse_args()
    conn = benchlib.connect()
    res = run(conn, keep_tables=not args.drop_tables)
    conn.close()
    print()
    datasets.print_grid(GRID_HEADS, grid_rows(res), GRID_RIGHT)


if __name__ == "__main__":
    main()

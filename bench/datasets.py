#!/usr/bin/python3
"""aifactory against scikit-learn on the small data sets shipped by Debian's python3-sklearn
(iris, wine, breast_cancer, digits, diabetes: files of the package, no network).

Each set is split once in Python, 75 % / 25 %, deterministically
(sklearn.model_selection.train_test_split with random_state=0, stratified for the
classification sets), and both parts are loaded into tables ds_<set>_train and ds_<set>_test
(id, x1..xp float8, target).  Both sides fit the same training rows and are scored on the
same test rows:

  aifactory  train(..., test_size => 0) on ds_<set>_train, then predict(project, version,
             ARRAY[x1..xp]) over ds_<set>_test in SQL (the predictions are fetched and
             scored in Python by the same sklearn.metrics function as sklearn's)
  sklearn    the estimator below, fitted on the same training rows

  classification (iris, wine, breast_cancer, digits)
    logistic     {"C": 1, "max_iter": 1000} (standardize true by default)
                 vs Pipeline(StandardScaler(), LogisticRegression(C=1, max_iter=1000))
    naive_bayes  defaults (var_smoothing 1e-9)   vs GaussianNB()
  regression (diabetes)
    linear                                       vs LinearRegression()
    ridge        {"alpha": 1} (standardize true) vs Pipeline(StandardScaler(), Ridge(alpha=1))
    ridge        {"alpha": 1, "standardize": false} vs Ridge(alpha=1)
    elastic_net  {"alpha": 0.1} (standardize true)
                 vs Pipeline(StandardScaler(), ElasticNet(alpha=0.1))
    elastic_net  {"alpha": 0.1, "standardize": false} vs ElasticNet(alpha=0.1)

Reported per pair: accuracy (classification) or r2 (regression) of each side, the
difference (aifactory - sklearn), and how many test predictions differ and the largest
|difference| between the two sides' predict_proba (classification) or the largest
|difference| between the two sides' predictions (regression).  No target: a
handful of test rows make one misclassified row worth 0.2 to 2.6 points.

Used by bench/classify.py; also runs alone against any database with the extension
(libpq environment):  /usr/bin/python3 bench/datasets.py [--drop-tables]
"""

import argparse
import io
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

SETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
CLASSIFICATION = ("iris", "wine", "breast_cancer", "digits")
SPLIT_SEED = 0
TEST_SIZE = 0.25


def pairs():
    """(set, algorithm label, aifactory algorithm, hyperparams json, sklearn factory,
    sklearn description) for every comparison."""
    from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = []
    for s in CLASSIFICATION:
        out.append((s, "logistic", "logistic", '{"C": 1, "max_iter": 1000}',
                    lambda: make_pipeline(StandardScaler(),
                                          LogisticRegression(C=1, max_iter=1000)),
                    "StandardScaler+LogisticRegression(C=1, max_iter=1000)"))
        out.append((s, "naive_bayes", "naive_bayes", "{}", GaussianNB, "GaussianNB()"))
    out += [
        ("diabetes", "linear", "linear", "{}", LinearRegression, "LinearRegression()"),
        ("diabetes", "ridge", "ridge", '{"alpha": 1}',
         lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
         "StandardScaler+Ridge(alpha=1)"),
        ("diabetes", "ridge, standardize false", "ridge", '{"alpha": 1, "standardize": false}',
         lambda: Ridge(alpha=1.0), "Ridge(alpha=1)"),
        ("diabetes", "elastic_net", "elastic_net", '{"alpha": 0.1}',
         lambda: make_pipeline(StandardScaler(), ElasticNet(alpha=0.1)),
         "StandardScaler+ElasticNet(alpha=0.1)"),
        ("diabetes", "elastic_net, standardize false", "elastic_net",
         '{"alpha": 0.1, "standardize": false}', lambda: ElasticNet(alpha=0.1),
         "ElasticNet(alpha=0.1)"),
    ]
    return out


def load_set(name):
    """(X float64 (n, p), y) of one of Debian's bundled sklearn data sets."""
    import sklearn.datasets as d
    loader = {"iris": d.load_iris, "wine": d.load_wine, "breast_cancer": d.load_breast_cancer,
              "digits": d.load_digits, "diabetes": d.load_diabetes}[name]
    b = loader()
    return np.asarray(b.data, dtype=np.float64), np.asarray(b.target)


def split(name, X, y):
    """The fixed 75/25 split: row indices (train, test), sorted."""
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=TEST_SIZE, random_state=SPLIT_SEED,
                              stratify=y if name in CLASSIFICATION else None)
    return np.sort(tr), np.sort(te)


def create_table(conn, table, ids, X, y, classification):
    """(Re)create `table` (id int, x1..xp float8, target int|float8) holding the rows; float8
    values go through repr, which round-trips exactly."""
    p = X.shape[1]
    cols = ", ".join("x%d float8" % (j + 1) for j in range(p))
    ttype = "int" if classification else "float8"
    benchlib.run_sql(conn, "DROP TABLE IF EXISTS %s" % table)
    benchlib.run_sql(conn, "CREATE TABLE %s (id int PRIMARY KEY, %s, target %s NOT NULL)" % (
        table, cols, ttype))
    buf = io.StringIO()
    for i, r in enumerate(ids):
        buf.write("%d\t%s\t%s\n" % (r, "\t".join(repr(float(v)) for v in X[i]),
                                    int(y[i]) if classification else repr(float(y[i]))))
    buf.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert("COPY %s FROM STDIN" % table, buf)
    benchlib.run_sql(conn, "ANALYZE %s" % table)


def load_all(conn, log=print):
    """Load every set into its two tables; returns {set: dict(X/y train/test, p, ...)}."""
    data = {}
    for name in SETS:
        X, y = load_set(name)
        tr, te = split(name, X, y)
        cls = name in CLASSIFICATION
        create_table(conn, "ds_%s_train" % name, tr, X[tr], y[tr], cls)
        create_table(conn, "ds_%s_test" % name, te, X[te], y[te], cls)
        data[name] = {"X_train": X[tr], "y_train": y[tr], "X_test": X[te], "y_test": y[te],
                      "p": X.shape[1], "rows": len(y), "train_rows": len(tr),
                      "test_rows": len(te), "classes": len(np.unique(y)) if cls else None}
        log("  %-13s %4d rows x %2d features%s: %d train, %d test" % (
            name, len(y), X.shape[1], (", %d classes" % data[name]["classes"]) if cls else "",
            len(tr), len(te)))
    return data


def run(conn, log=print, keep_tables=True):
    """Load the sets, run every pair; returns a list of result dicts."""
    from sklearn.metrics import accuracy_score, r2_score

    log("  split: train_test_split(test_size=%.2f, random_state=%d, stratify=y for "
        "classification), same rows for both sides" % (TEST_SIZE, SPLIT_SEED))
    data = load_all(conn, log)
    results = []
    for name, label, algo, hp, make, skdesc in pairs():
        d = data[name]
        cls = name in CLASSIFICATION
        xs = ", ".join("x%d" % (j + 1) for j in range(d["p"]))
        project = "ds_%s_%s" % (name, label.replace(", standardize false", "_raw"))
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
        sk_fit_ms = (time.perf_counter() - t0) * 1000.0
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
        sk_iter = None
        last = est.steps[-1][1] if hasattr(est, "steps") else est
        if getattr(last, "n_iter_", None) is not None:
            sk_iter = int(np.max(last.n_iter_))
        r = {"set": name, "algorithm": label, "aifactory_algorithm": algo, "hyperparams": hp,
             "sklearn": skdesc, "metric": metric, "aifactory": a, "sklearn_value": b,
             "difference": a - b, "test_rows": d["test_rows"], "train_rows": d["train_rows"],
             "aifactory_version": version, "aifactory_train_ms": ms_train,
             "aifactory_predict_ms": ms_pred, "sklearn_fit_ms": sk_fit_ms,
             "aifactory_n_iter": metrics.get("n_iter"),
             "aifactory_converged": metrics.get("converged"), "sklearn_n_iter": sk_iter,
             "notices": notices}
        r.update(agree)
        results.append(r)
        log("  %-13s %-31s %s aifactory %.4f  sklearn %.4f  diff %+.4f  %s%s" % (
            name, label, metric, a, b, a - b,
            ("%d of %d predictions differ, max |proba diff| %s" % (
                agree["differing_predictions"], len(y), fmt_e(agree["max_abs_proba_diff"])))
            if cls
            else ("max |prediction diff| %.2e" % agree["max_abs_prediction_diff"]),
            ("  NOTICE: " + " | ".join(notices)) if notices else ""))
    if not keep_tables:
        for name in SETS:
            benchlib.run_sql(conn, "DROP TABLE IF EXISTS ds_%s_train, ds_%s_test" % (name, name))
    return results


def fmt_e(x):
    return "n/a" if x is None else "%.1e" % x


def print_grid(heads, rows, right=(), out=print):
    """A plain text table: heads (tuple of str), rows (tuples of str); `right` are the
    indices of right-aligned columns."""
    table = [tuple(heads)] + [tuple(r) for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(len(heads))]
    for i, t in enumerate(table):
        out("  ".join(c.rjust(widths[j]) if j in right else c.ljust(widths[j])
                      for j, c in enumerate(t)).rstrip())
        if i == 0:
            out("  ".join("-" * w for w in widths))


def grid_rows(results):
    """The rows of print_grid for run()'s results."""
    out = []
    for r in results:
        if r["metric"] == "accuracy":
            agree = "%d/%d differ; proba %s" % (r["differing_predictions"], r["test_rows"],
                                                fmt_e(r["max_abs_proba_diff"]))
            diff = "%+.2f pp" % (100 * r["difference"])
        else:
            agree = "max diff %s" % fmt_e(r["max_abs_prediction_diff"])
            diff = "%+.1e" % r["difference"]
        out.append((r["set"], r["algorithm"], r["sklearn"], r["metric"],
                    "%.4f" % r["aifactory"], "%.4f" % r["sklearn_value"], diff, agree))
    return out


GRID_HEADS = ("data set", "aifactory algorithm", "sklearn", "metric", "aifactory", "sklearn",
              "difference", "predictions")
GRID_RIGHT = (4, 5, 6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--drop-tables", action="store_true",
                    help="drop the ds_* tables at the end")
    args = ap.parse_args()
    conn = benchlib.connect()
    res = run(conn, keep_tables=not args.drop_tables)
    conn.close()
    print()
    print_grid(GRID_HEADS, grid_rows(res), GRID_RIGHT)


if __name__ == "__main__":
    main()

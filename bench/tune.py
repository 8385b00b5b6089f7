#!/usr/bin/python3
"""aifactory hyperparameter-search benchmark (aifactory.tune): the measurements.
bench/tune.sh sets up the cluster and the bench table and runs this with /usr/bin/python3; it
can also run alone against any database holding the bench table and the extension (libpq
environment: PGHOST, PGPORT, PGUSER, PGDATABASE).

    (1) parallel trials: a 20-trial random search, gbdt, 3 folds, on bench200k (the first
        200 000 rows of bench), workers => 1 against workers => 2, the same seed (so the same
        trials); whole calls, interleaved              target speedup 1w / 2w >= 1.6
        also: the trials' params and scores agree between the two, the sum of the trials'
        seconds against the wall time (parallel efficiency), the CPU the rest of the machine
        used meanwhile, one train() of the winning configuration
    (2) tpe vs random at equal trial counts (30), gbdt on bench20k (the first 20 000 rows),
        a space whose good region is narrow, metric log_loss, several seeds: the best CV
        score of each, medians, how many seeds tpe wins; no target
    (3) halving vs random (side table): halving over 27 candidates against random search's
        first 4 of the same candidates (the same budget in trees) and all 27 of them

Writes the tables to stdout and the same as JSON to bench/out/tune.json (or --out).
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import row  # noqa: E402
import classify  # noqa: E402  (ensure_train_memory)
import datasets  # noqa: E402  (print_grid)

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = ["f%d" % i for i in range(1, 21)]
FLIST = ", ".join(FEATURES)

RUNS = int(os.environ.get("AIF_BENCH_RUNS", "3"))
SPEEDUP_TARGET = 1.6

# ---- (1) ------------------------------------------------------------------------------------
BIG_ROWS = 200000
BIG_SRC = "SELECT %s, label FROM bench200k" % FLIST
# trials of ~1-5 s each (50 trees on 100k rows per fold), so that starting the workers and
# loading the rows do not dominate
SPACE1 = {"max_depth": {"int": [3, 8]}, "learning_rate": {"log_uniform": [0.02, 0.3]},
          "min_child_weight": [1, 5, 10], "subsample": {"uniform": [0.6, 1.0]}}
HP1 = {"objective": "binary:logistic", "n_estimators": 50}
TRIALS1, FOLDS1, SEED1 = 20, 3, 1

# ---- (2) and (3) -----------------------------------------------------------------------------
SMALL_ROWS = 20000
SMALL_SRC = "SELECT %s, label FROM bench20k" % FLIST
# wide log ranges: most of the box is a learning rate too small to move off p = 0.5 in 30
# trees, or leaves shrunk to nothing by min_child_weight / reg_lambda; log_loss (unlike
# roc_auc) sees how far the probabilities moved
SPACE2 = {"learning_rate": {"log_uniform": [1e-4, 1]}, "max_depth": {"int": [1, 12]},
          "min_child_weight": {"log_uniform": [0.1, 1000]},
          "reg_lambda": {"log_uniform": [1e-3, 1e3]}}
HP2 = {"objective": "binary:logistic", "n_estimators": 30}
TRIALS2, FOLDS2, METRIC2 = 30, 3, "log_loss"
# (3): 27 candidates, n_estimators 81: rungs of 3, 9, 27, 81 trees, a third kept at each:
# 27 x 3 + 9 x 9 + 3 x 27 + 1 x 81 = 324 trees per fold = 4 full trials
HP3 = {"objective": "binary:logistic", "n_estimators": 81}
CANDIDATES3 = 27

TRIAL_COLS = ("trial, params, rung, resource, fold_scores, mean_score, std_score, state, "
              "seconds, worker, extract(epoch FROM started)::float8, "
              "extract(epoch FROM finished)::float8, error")


def log(msg=""):
    print(msg, flush=True)


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def tune_sql(project, src, space, strategy, trials, folds, hp, seed, metric=None, workers=None):
    args = [lit(project), lit(src), "'label'", "'gbdt'", lit(json.dumps(space)), lit(strategy),
            str(trials), str(folds)]
    if metric:
        args.append("metric => %s" % lit(metric))
    if workers is not None:
        args.append("workers => %d" % workers)
    args += ["seed => %d" % seed, "deploy => 'none'", "hyperparams => %s" % lit(json.dumps(hp))]
    return "SELECT * FROM aifactory.tune(%s)" % ", ".join(args)


def fetch_trials(conn, search_id):
    _ms, rows = benchlib.run_sql(
        conn, "SELECT %s FROM aifactory.trials WHERE search_id = %%s ORDER BY trial" % TRIAL_COLS,
        (search_id,))
    keys = ("trial", "params", "rung", "resource", "fold_scores", "mean_score", "std_score",
            "state", "seconds", "worker", "started", "finished", "error")
    return [dict(zip(keys, r)) for r in rows]


def run_tune(conn, sql):
    """Run one tune() call: (ms, its result row as a dict)."""
    ms, rows = benchlib.run_sql(conn, sql)
    if len(rows) != 1:
        raise RuntimeError("tune() returned %d rows: %s" % (len(rows), sql))
    p, v, a, metrics, deployed, best = rows[0]
    return ms, {"project": p, "version": v, "metrics": metrics, "deployed": deployed,
                "best_params": best, "search_id": int(metrics["tune"]["search_id"])}


# ---- CPU accounting: ours and the rest of the machine's ---------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid):
    """(utime + stime, cutime + cstime) of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()  # after "pid (comm) "
    # fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17
    return ((int(fields[11]) + int(fields[12])) / TICK,
            (int(fields[13]) + int(fields[14])) / TICK)


def _ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    return int(s[s.rindex(")") + 2:].split()[1])


def _machine_busy():
    """Busy and total CPU seconds of the whole machine so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return (total - idle) / TICK, total / TICK


class CpuWatch:
    """CPU seconds used during a statement by our server (the backend itself, plus every
    child the postmaster reaped meanwhile: tune's background workers end with their search,
    so their CPU lands in the postmaster's cutime/cstime) and by the machine as a whole
    (/proc/stat).  Nothing when /proc of the server is not readable (another host)."""

    def __init__(self, backend_pid):
        self.backend = backend_pid
        try:
            self.postmaster = _ppid(backend_pid)
            _proc_stat(self.postmaster)
            self.ok = True
        except (OSError, ValueError, IndexError):
            self.ok = False

    def snap(self):
        if not self.ok:
            return None
        b, _ = _proc_stat(self.backend)
        _, c = _proc_stat(self.postmaster)
        busy, total = _machine_busy()
        return (time.perf_counter(), b, c, busy, total)

    @staticmethod
    def delta(a, b):
        if a is None or b is None:
            return None
        wall = b[0] - a[0]
        ours = (b[1] - a[1]) + (b[2] - a[2])
        busy = b[3] - a[3]
        return {"wall_s": wall, "ours_cpu_s": ours, "backend_cpu_s": b[1] - a[1],
                "workers_cpu_s": b[2] - a[2], "machine_busy_cpu_s": busy,
                "others_cpu_s": max(busy - ours, 0.0),
                "others_cores": max(busy - ours, 0.0) / wall if wall > 0 else None}


# ---- (1) parallel trials ---------------------------------------------------------------------

def parallel(conn, rows, doc):
    log("\n(1) 20-trial random search, gbdt, 3 folds, bench200k: workers => 1 vs 2")
    ms_make = 0.0
    for s in ("DROP TABLE IF EXISTS bench200k",
              # ORDER BY: the same physical order every time (a parallel scan would not
              # keep bench's, and the folds and the split follow the rows' order)
              "CREATE TABLE bench200k AS SELECT id, %s, label FROM bench WHERE id <= %d"
              " ORDER BY id" % (FLIST, BIG_ROWS),
              "VACUUM ANALYZE bench200k"):
        ms_make += benchlib.run_sql(conn, s)[0]
    log("  bench200k: the first %d rows of bench (f1..f20, label), made in %.0f ms"
        % (BIG_ROWS, ms_make))
    sql = {w: tune_sql("bench_tune_w%d" % w, BIG_SRC, SPACE1, "random", TRIALS1, FOLDS1, HP1,
                       SEED1, workers=w) for w in (1, 2)}
    log("  space %s, hyperparams %s" % (json.dumps(SPACE1), json.dumps(HP1)))
    log("  SQL (workers => 1): %s" % sql[1])

    # warm-up: a 2-trial search with 2 workers (bench200k in cache, the library loaded)
    ms_w, _r = run_tune(conn, tune_sql("bench_tune_warmup", BIG_SRC, SPACE1, "random", 2,
                                       FOLDS1, HP1, SEED1, workers=2))
    log("  warm-up: a 2-trial search with 2 workers, %.0f ms" % ms_w)

    _ms, [(pid,)] = benchlib.run_sql(conn, "SELECT pg_backend_pid()")
    watch = CpuWatch(pid)
    keep = {1: [], 2: []}
    load_before = benchlib.loadavg()

    def timer(w):
        def fn():
            a = watch.snap()
            ms, r = run_tune(conn, sql[w])
            r["cpu"] = CpuWatch.delta(a, watch.snap())
            r["ms"] = ms
            r["loadavg_after"] = benchlib.loadavg()
            keep[w].append(r)
            return ms
        return fn

    log("  %d timed runs, interleaved (1w, 2w, 1w, 2w, ...), no warm-up of the timed calls; "
        "load average before: %s" % (RUNS, " ".join(load_before or [])))
    times = benchlib.measure([("1 worker", timer(1)), ("2 workers", timer(2))], runs=RUNS,
                             warmups=0, log=log)
    load_after = benchlib.loadavg()
    med1, med2 = benchlib.median(times["1 worker"]), benchlib.median(times["2 workers"])
    speedup = med1 / med2

    # the trials of every run, read now (the workers committed them)
    for w in (1, 2):
        for r in keep[w]:
            tr = fetch_trials(conn, r["search_id"])
            r["trials"] = tr
            secs = [t["seconds"] or 0.0 for t in tr]
            r["trial_seconds_sum"] = sum(secs)
            r["trial_phase_s"] = (max(t["finished"] for t in tr) - min(t["started"] for t in tr)
                                  if tr and all(t["finished"] for t in tr) else None)
            r["workers_seen"] = len({t["worker"] for t in tr})
            r["workers_started"] = r["metrics"]["tune"].get("workers")
            r["states"] = sorted({t["state"] for t in tr})
            r["efficiency"] = r["trial_seconds_sum"] / (r["ms"] / 1000.0 * w)
            if r["cpu"]:
                c = r["cpu"]
                log("  run search %d, %d worker(s): %.1f s; trials %.1f s summed (%d trials, "
                    "%s), trial phase %.1f s; CPU: ours %.1f s, the rest of the machine %.1f s "
                    "(%.2f cores)" % (r["search_id"], w, r["ms"] / 1000, r["trial_seconds_sum"],
                                      len(tr), "/".join(r["states"]), r["trial_phase_s"] or 0,
                                      c["ours_cpu_s"], c["others_cpu_s"], c["others_cores"]))

    # the same trials? the same scores?
    ref = keep[1][0]["trials"]
    ref_params = [t["params"] for t in ref]
    same_params = all([t["params"] for t in r["trials"]] == ref_params
                      for w in (1, 2) for r in keep[w])
    max_fold_diff = 0.0
    for w in (1, 2):
        for r in keep[w]:
            for a, b in zip(ref, r["trials"]):
                for x, y in zip(a["fold_scores"] or [], b["fold_scores"] or []):
                    max_fold_diff = max(max_fold_diff, abs(x - y))
    cv = {str(w): [float(r["metrics"]["cv_score"]) for r in keep[w]] for w in (1, 2)}
    best_trials = {str(w): [r["metrics"]["tune"]["best_trial"] for r in keep[w]]
                   for w in (1, 2)}
    cv_diff = max(abs(x - cv["1"][0]) for xs in cv.values() for x in xs)
    ntrials = {str(w): [len(r["trials"]) for r in keep[w]] for w in (1, 2)}
    log("  the same %d trials in every run: %s; largest |fold score difference| %.3g; cv_score "
        "(%s) 1w %s, 2w %s; best trial %s / %s" % (
            len(ref), "yes" if same_params else "NO", max_fold_diff,
            keep[1][0]["metrics"]["tune"]["metric"], ", ".join("%.6f" % x for x in cv["1"]),
            ", ".join("%.6f" % x for x in cv["2"]), best_trials["1"], best_trials["2"]))

    def med_of(w, key):
        return benchlib.median([r[key] for r in keep[w]])

    eff1, eff2 = med_of(1, "efficiency"), med_of(2, "efficiency")
    sum1, sum2 = med_of(1, "trial_seconds_sum"), med_of(2, "trial_seconds_sum")
    ph = {w: [r["trial_phase_s"] for r in keep[w] if r["trial_phase_s"] is not None]
          for w in (1, 2)}
    phase1 = benchlib.median(ph[1]) if ph[1] else None
    phase2 = benchlib.median(ph[2]) if ph[2] else None

    # one train() of the winning configuration, for scale
    best = dict(HP1)
    best.update(keep[1][0]["best_params"])
    train_sql = ("SELECT * FROM aifactory.train('bench_tune_best', %s, 'label', 'gbdt', %s, "
                 "seed => 1, deploy => 'none')" % (lit(BIG_SRC), lit(json.dumps(best))))
    tt = benchlib.measure([("train best", lambda: benchlib.run_sql(conn, train_sql)[0])],
                          runs=RUNS, warmups=0, log=log)["train best"]
    ms_train = benchlib.median(tt)

    rows.append(row("tune random 20 trials x 3 folds, workers => 1 (whole call)", med1,
                    times["1 worker"], key="tune_1w", sql=sql[1]))
    rows.append(row("tune random 20 trials x 3 folds, workers => 2 (whole call)", med2,
                    times["2 workers"], "workers => 1", med1, med2 / med1, key="tune_2w",
                    sql=sql[2]))
    rows.append(row("speedup 1 worker / 2 workers", None, None, None, None, speedup,
                    ">= %.1f" % SPEEDUP_TARGET, classify.verdict(speedup >= SPEEDUP_TARGET),
                    key="speedup"))
    rows.append(row("trials' seconds summed, 1 worker", sum1 * 1000, None, "1w wall", med1,
                    eff1, key="trial_sum_1w",
                    note="ratio: parallel efficiency, sum / (wall x workers)"))
    rows.append(row("trials' seconds summed, 2 workers", sum2 * 1000, None, "2w wall", med2,
                    eff2, key="trial_sum_2w",
                    note="ratio: parallel efficiency, sum / (wall x workers)"))
    if phase1 and phase2:
        rows.append(row("trial phase (first start to last finish), 1 worker", phase1 * 1000,
                        None, "1w wall", med1, phase1 * 1000 / med1, key="phase_1w"))
        rows.append(row("trial phase, 2 workers", phase2 * 1000, None, "1w trial phase",
                        phase1 * 1000, phase1 / phase2, key="phase_2w",
                        ratio_text="%.2f (speedup)" % (phase1 / phase2)))
    cpu = {w: [r["cpu"] for r in keep[w] if r.get("cpu")] for w in (1, 2)}
    if cpu[1] and cpu[2]:
        c1 = benchlib.median([c["ours_cpu_s"] for c in cpu[1]])
        c2 = benchlib.median([c["ours_cpu_s"] for c in cpu[2]])
        o1 = benchlib.median([c["others_cores"] for c in cpu[1]])
        o2 = benchlib.median([c["others_cores"] for c in cpu[2]])
        rows.append(row("CPU of the search (backend + workers), 1 worker", c1 * 1000, None,
                        "1w wall", med1, c1 * 1000 / med1, key="cpu_1w",
                        ratio_text="%.2f cores" % (c1 * 1000 / med1),
                        note="the rest of the machine meanwhile: %.2f cores" % o1))
        rows.append(row("CPU of the search (backend + workers), 2 workers", c2 * 1000, None,
                        "2w wall", med2, c2 * 1000 / med2, key="cpu_2w",
                        ratio_text="%.2f cores" % (c2 * 1000 / med2),
                        note="the rest of the machine meanwhile: %.2f cores" % o2))
        rows.append(row("the rest of the machine during the runs, 1w / 2w (cores)", None,
                        None, None, None, None, key="others_cores",
                        ratio_text="%.2f / %.2f" % (o1, o2)))
    rows.append(row("train() of the winning configuration (150k rows fit)", ms_train, tt,
                    "2w tune", med2, med2 / ms_train, key="train_best", sql=train_sql,
                    ratio_text="tune = %.1f trains" % (med2 / ms_train)))

    doc["parallel"] = {
        "table": {"name": "bench200k", "rows": BIG_ROWS, "made_ms": ms_make},
        "space": SPACE1, "hyperparams": HP1, "trials": TRIALS1, "folds": FOLDS1,
        "seed": SEED1, "sql": sql, "warmup_ms": ms_w, "runs_ms": times,
        "median_ms": {"1": med1, "2": med2}, "speedup": speedup,
        "target": SPEEDUP_TARGET, "verdict": classify.verdict(speedup >= SPEEDUP_TARGET),
        "loadavg_before": load_before, "loadavg_after": load_after,
        "same_params_all_runs": same_params, "max_fold_score_diff": max_fold_diff,
        "cv_score": cv, "cv_score_max_diff": cv_diff, "best_trial": best_trials,
        "metric": keep[1][0]["metrics"]["tune"]["metric"], "trials_per_run": ntrials,
        "trial_seconds_sum_median": {"1": sum1, "2": sum2},
        "efficiency_median": {"1": eff1, "2": eff2},
        "trial_phase_s_median": {"1": phase1, "2": phase2},
        "train_best_ms": ms_train, "train_best_runs_ms": tt, "train_best_sql": train_sql,
        "best_params": keep[1][0]["best_params"],
        "runs": {str(w): [{k: v for k, v in r.items()} for r in keep[w]] for w in (1, 2)}}
    return {"speedup": speedup, "same": same_params}


# ---- (2) tpe vs random -------------------------------------------------------------------------

def small_table(conn):
    ms = 0.0
    for s in ("DROP TABLE IF EXISTS bench20k",
              "CREATE TABLE bench20k AS SELECT id, %s, label FROM bench WHERE id <= %d"
              " ORDER BY id" % (FLIST, SMALL_ROWS),
              "VACUUM ANALYZE bench20k"):
        ms += benchlib.run_sql(conn, s)[0]
    return ms


def better(a, b, maximize):
    return a > b if maximize else a < b


def tpe_vs_random(conn, doc, seeds):
    log("\n(2) tpe vs random, %d trials each, %d folds, gbdt on bench20k, metric %s, seeds %s"
        % (TRIALS2, FOLDS2, METRIC2, ", ".join(map(str, seeds))))
    log("  space %s, hyperparams %s (workers: the default)" % (json.dumps(SPACE2),
                                                              json.dumps(HP2)))
    res = []
    for seed in seeds:
        one = {"seed": seed}
        for strat in ("random", "tpe"):
            sql = tune_sql("bench_tune_%s" % strat, SMALL_SRC, SPACE2, strat, TRIALS2, FOLDS2,
                           HP2, seed, metric=METRIC2)
            ms, r = run_tune(conn, sql)
            tr = fetch_trials(conn, r["search_id"])
            scores = [t["mean_score"] for t in tr if t["state"] == "complete"]
            best_i = min(range(len(tr)), key=lambda i: (tr[i]["mean_score"]
                                                        if tr[i]["mean_score"] is not None
                                                        else float("inf")))
            one[strat] = {"ms": ms, "search_id": r["search_id"],
                          "cv_score": float(r["metrics"]["cv_score"]),
                          "best_trial": r["metrics"]["tune"]["best_trial"],
                          "best_trial_by_table": tr[best_i]["trial"],
                          "best_params": r["best_params"], "trials": len(tr),
                          "complete": len(scores),
                          "failed": sum(t["state"] == "failed" for t in tr),
                          "median_score": statistics.median(scores) if scores else None,
                          "median_score_after_10": (statistics.median(scores[10:])
                                                    if len(scores) > 10 else None),
                          "workers": r["metrics"]["tune"].get("workers"),
                          "params": [t["params"] for t in tr],
                          "scores": [t["mean_score"] for t in tr],
                          "sql": sql}
        one["same_first_10"] = one["random"]["params"][:10] == one["tpe"]["params"][:10]
        rr, tt = one["random"]["cv_score"], one["tpe"]["cv_score"]
        one["winner"] = "tpe" if tt < rr else ("random" if rr < tt else "tie")
        log("  seed %d: random %.5f (trial %d, %.1f s), tpe %.5f (trial %d, %.1f s): %s; first 10"
            " trials identical: %s" % (seed, rr, one["random"]["best_trial"],
                                       one["random"]["ms"] / 1000, tt, one["tpe"]["best_trial"],
                                       one["tpe"]["ms"] / 1000, one["winner"],
                                       "yes" if one["same_first_10"] else "NO"))
        res.append(one)
    med_r = statistics.median(o["random"]["cv_score"] for o in res)
    med_t = statistics.median(o["tpe"]["cv_score"] for o in res)
    wins = sum(o["winner"] == "tpe" for o in res)
    ties = sum(o["winner"] == "tie" for o in res)
    doc["tpe_vs_random"] = {
        "table": {"name": "bench20k", "rows": SMALL_ROWS}, "space": SPACE2, "hyperparams": HP2,
        "trials": TRIALS2, "folds": FOLDS2, "metric": METRIC2, "minimize": True,
        "seeds": seeds, "results": res, "median_best": {"random": med_r, "tpe": med_t},
        "tpe_wins": wins, "ties": ties, "random_wins": len(res) - wins - ties}
    return doc["tpe_vs_random"]


def tpe_grid(t):
    out = []
    for o in t["results"]:
        r, p = o["random"], o["tpe"]
        out.append((str(o["seed"]), "%.5f" % r["cv_score"], str(r["best_trial"]),
                    "%.5f" % p["cv_score"], str(p["best_trial"]),
                    "%+.5f" % (p["cv_score"] - r["cv_score"]), o["winner"],
                    "%.4f / %.4f" % (r["median_score_after_10"], p["median_score_after_10"]),
                    "%.1f / %.1f" % (r["ms"] / 1000, p["ms"] / 1000)))
    out.append(("median", "%.5f" % t["median_best"]["random"], "",
                "%.5f" % t["median_best"]["tpe"], "",
                "%+.5f" % (t["median_best"]["tpe"] - t["median_best"]["random"]),
                "tpe wins %d of %d" % (t["tpe_wins"], len(t["results"])), "", ""))
    return out


TPE_HEADS = ("seed", "random best", "at trial", "tpe best", "at trial", "tpe - random",
             "winner", "median trials 11-30 r / t", "seconds r / t")


# ---- (3) halving vs random ---------------------------------------------------------------------

def halving(conn, doc, seeds):
    log("\n(3) halving (27 candidates, n_estimators 81: rungs 3/9/27/81) vs random, bench20k, "
        "metric %s, seeds %s" % (METRIC2, ", ".join(map(str, seeds))))
    res = []
    full = HP3["n_estimators"]
    for seed in seeds:
        one = {"seed": seed}
        for key, strat, n in (("halving", "halving", CANDIDATES3), ("random_4", "random", 4),
                              ("random_27", "random", CANDIDATES3)):
            sql = tune_sql("bench_tune_%s" % key, SMALL_SRC, SPACE2, strat, n, FOLDS2, HP3,
                           seed, metric=METRIC2)
            ms, r = run_tune(conn, sql)
            tr = fetch_trials(conn, r["search_id"])
            if strat == "halving":
                rung_res = {}
                for t in tr:
                    rung_res[t["rung"]] = t["resource"]
                trees = sum(sum(rung_res[k] for k in range(t["rung"] + 1)) for t in tr)
            else:
                trees = full * len(tr)
            one[key] = {"ms": ms, "search_id": r["search_id"],
                        "cv_score": float(r["metrics"]["cv_score"]),
                        "best_trial": r["metrics"]["tune"]["best_trial"],
                        "trees_per_fold": trees, "trials": len(tr),
                        "params": [t["params"] for t in tr],
                        "rungs": sorted({(t["rung"], t["resource"]) for t in tr}),
                        "sql": sql}
        h, r27 = one["halving"], one["random_27"]
        # halving's params carry its rung's n_estimators: compare the rest
        def cands(ps):
            return [{k: v for k, v in p.items() if k != "n_estimators"} for p in ps]
        one["same_candidates"] = cands(h["params"]) == cands(r27["params"])
        one["halving_picked_the_best"] = h["best_trial"] == r27["best_trial"]
        log("  seed %d: halving %.5f (%d trees/fold, %.1f s), random 4 trials %.5f (%d, %.1f s), "
            "random 27 trials %.5f (%d, %.1f s); same candidates %s, halving kept random-27's "
            "best: %s" % (seed, h["cv_score"], h["trees_per_fold"], h["ms"] / 1000,
                          one["random_4"]["cv_score"], one["random_4"]["trees_per_fold"],
                          one["random_4"]["ms"] / 1000, r27["cv_score"], r27["trees_per_fold"],
                          r27["ms"] / 1000, "yes" if one["same_candidates"] else "no",
                          "yes" if one["halving_picked_the_best"] else "no"))
        res.append(one)
    doc["halving"] = {"table": {"name": "bench20k", "rows": SMALL_ROWS}, "space": SPACE2,
                      "hyperparams": HP3, "candidates": CANDIDATES3, "folds": FOLDS2,
                      "metric": METRIC2, "seeds": seeds, "results": res}
    return doc["halving"]


def halving_grid(h):
    out = []
    for o in h["results"]:
        cells = [str(o["seed"])]
        for k in ("halving", "random_4", "random_27"):
            x = o[k]
            cells.append("%.5f (%d trees, %.1f s)" % (x["cv_score"], x["trees_per_fold"],
                                                      x["ms"] / 1000))
        cells.append("yes" if o["halving_picked_the_best"] else "no")
        out.append(tuple(cells))
    meds = ["median"]
    for k in ("halving", "random_4", "random_27"):
        meds.append("%.5f" % statistics.median(o[k]["cv_score"] for o in h["results"]))
    meds.append("%d of %d" % (sum(o["halving_picked_the_best"] for o in h["results"]),
                              len(h["results"])))
    out.append(tuple(meds))
    return out


HALVING_HEADS = ("seed", "halving 27 cand.", "random 4 trials (same budget)",
                 "random 27 trials (the same candidates)", "halving kept the best")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "out", "tune.json"))
    ap.add_argument("--no-parallel", action="store_true", help="skip (1)")
    ap.add_argument("--no-tpe", action="store_true", help="skip (2)")
    ap.add_argument("--no-halving", action="store_true", help="skip (3)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds of (2), 1..N (5)")
    ap.add_argument("--halving-seeds", type=int, default=3, help="seeds of (3), 1..N (3)")
    args = ap.parse_args()

    started = time.time()
    conn = benchlib.connect()
    _ms, [(version,)] = benchlib.run_sql(conn, "SELECT pg_catalog.version()")
    raised = classify.ensure_train_memory(conn, log)
    settings = {}
    for s in ("aifactory.max_workers", "max_worker_processes", "max_parallel_workers",
              "shared_buffers", "maintenance_work_mem", "fsync", "aifactory.train_memory",
              "aifactory.blas_threads"):
        try:
            settings[s] = benchlib.run_sql(conn, "SHOW " + s)[1][0][0]
        except Exception:
            conn.rollback()
    machine = benchlib.machine_info()
    log("PostgreSQL: %s" % version)
    log("settings: %s" % ", ".join("%s=%s" % kv for kv in settings.items()))
    log("load average before the measurements: %s" % " ".join(machine["loadavg_at_start"] or []))
    doc = {"benchmark": "tune",
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "machine": machine, "git": benchlib.git_commit(os.path.dirname(HERE)),
           "postgres": version, "settings": settings, "train_memory_raised": raised,
           "runs": RUNS,
           "timing": "client wall clock (perf_counter) over a loopback TCP connection around the "
           "whole tune() statement; (1) median of the timed runs, 1w and 2w interleaved, no "
           "warm-up of the timed calls (one 2-trial search before them)"}
    rows, targets = [], []
    seeds2 = list(range(1, args.seeds + 1))
    seeds3 = list(range(1, args.halving_seeds + 1))

    if not args.no_parallel:
        p = parallel(conn, rows, doc)
        targets.append({"target": "(1) tune speedup, 2 workers against 1, >= %.1f"
                        % SPEEDUP_TARGET, "value": p["speedup"], "text": "%.2f" % p["speedup"],
                        "verdict": classify.verdict(p["speedup"] >= SPEEDUP_TARGET)})
    t = h = None
    if not (args.no_tpe and args.no_halving):
        ms = small_table(conn)
        log("\nbench20k: the first %d rows of bench, made in %.0f ms" % (SMALL_ROWS, ms))
    if not args.no_tpe:
        t = tpe_vs_random(conn, doc, seeds2)
    if not args.no_halving:
        h = halving(conn, doc, seeds3)
    conn.close()

    log("\n==== aifactory hyperparameter-search benchmark: %s, %s cores, %s ====" % (
        doc["date"], machine["cores"], doc["git"]))
    if rows:
        log("(1) median of %d runs, interleaved; ms" % RUNS)
        benchlib.print_table(rows, log)
        p = doc["parallel"]
        log("  the same %d trials (params) in all %d runs: %s; largest |fold score difference| "
            "%.3g; cv_score (%s) %.6f (largest difference %.3g)" % (
                TRIALS1, 2 * RUNS, "yes" if p["same_params_all_runs"] else "NO",
                p["max_fold_score_diff"], p["metric"], p["cv_score"]["1"][0], p["cv_score_max_diff"]))
        cpus = [(w, r["cpu"]) for w in (1, 2) for r in p["runs"][str(w)] if r.get("cpu")]
        if cpus:
            log("  CPU used by the rest of the machine during the timed runs (cores): 1w %s; "
                "2w %s" % (", ".join("%.2f" % c["others_cores"] for w, c in cpus if w == 1),
                           ", ".join("%.2f" % c["others_cores"] for w, c in cpus if w == 2)))
        log("  load average before (1) %s, after %s" % (" ".join(p["loadavg_before"] or []),
                                                      " ".join(p["loadavg_after"] or [])))
    if t:
        log("\n(2) tpe vs random, %d trials each, best CV %s (lower is better)" % (TRIALS2,
                                                                                METRIC2))
        datasets.print_grid(TPE_HEADS, tpe_grid(t), right=(1, 2, 3, 4, 5, 7, 8), out=log)
    if h:
        log("\n(3) halving vs random, best CV %s (lower is better); trees per fold = budget"
            % METRIC2)
        datasets.print_grid(HALVING_HEADS, halving_grid(h), right=(), out=log)
    log("")
    log("load average at the start %s, at the end %s" % (
        " ".join(machine.get("loadavg_at_start") or []), " ".join(benchlib.loadavg() or [])))
    for tg in targets:
        log("%s %s: %s" % (tg["verdict"], tg["target"], tg["text"]))
    doc["measurements"] = rows
    doc["targets"] = targets
    doc["seconds"] = round(time.time() - started, 1)
    doc["machine"]["loadavg_at_end"] = benchlib.loadavg()
    benchlib.write_json(args.out, doc)
    log("\nwrote %s (%.0f s)" % (args.out, doc["seconds"]))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""aifactory feature-store benchmark: the measurements.  bench/features.sh sets up the cluster
and runs this with /usr/bin/python3; it can also run alone against any database with the
extension (libpq environment: PGHOST, PGPORT, PGUSER, PGDATABASE).  It creates its own tables.

    (1) building a point-in-time training set of a 1M-row spine against three feature views of
        5M events each: create_training_set(..., materialized => true) vs. the same LATERAL
        query written by hand, and vs. an as-of join by window functions (no index used);
        the three tables must hold the same rows
    (2) online lookup latency under pgbench: online_features() vs. a primary-key SELECT on
        the online table                                                 target ratio <= 1.2

Writes the tables to stdout and the same as JSON to bench/out/features.json (or --out).
"""

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import row  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = 1.2

SETUP = """
DROP TABLE IF EXISTS spine, ev_orders, ev_visits, ev_balance, ts_ours, ts_lateral, ts_window CASCADE;
SELECT setseed(0.17);
CREATE TABLE spine AS
SELECT i AS id, 1 + (random() * ({customers} - 1))::int AS customer_id,
       '2024-01-01'::timestamptz + random() * interval '365 days' AS t,
       (random() < 0.3) AS label
FROM generate_series(1, {spine}) i;
CREATE TABLE ev_orders AS
SELECT 1 + (random() * ({customers} - 1))::int AS customer_id,
       '2023-12-01'::timestamptz + random() * interval '400 days' AS event_time,
       round((random() * 500)::numeric, 2)::float8 AS amount, (1 + random() * 9)::int AS items
FROM generate_series(1, {events});
CREATE TABLE ev_visits AS
SELECT 1 + (random() * ({customers} - 1))::int AS customer_id,
       '2023-12-01'::timestamptz + random() * interval '400 days' AS event_time,
       random() * 60 AS minutes, (random() * 30)::int AS pages
FROM generate_series(1, {events});
CREATE TABLE ev_balance AS
SELECT customer_id, event_time, event_time + random() * interval '2 days' AS created,
       balance, score
FROM (SELECT 1 + (random() * ({customers} - 1))::int AS customer_id,
             '2023-12-01'::timestamptz + (random() * 400)::int * interval '1 day' AS event_time,
             random() * 10000 AS balance, random() AS score
      FROM generate_series(1, {events})) g;
CREATE INDEX ON ev_orders (customer_id, event_time);
CREATE INDEX ON ev_visits (customer_id, event_time);
CREATE INDEX ON ev_balance (customer_id, event_time, created);
"""

VIEWS = """
SELECT aifactory.drop_training_set(name) FROM aifactory.training_sets WHERE name = 'ts_ours';
SELECT aifactory.drop_feature_view(name) FROM aifactory.feature_views
 WHERE name IN ('fv_orders', 'fv_visits', 'fv_balance');
SELECT 1 FROM aifactory.create_feature_view('fv_orders', 'ev_orders', '{customer_id}', 'event_time');
SELECT 1 FROM aifactory.create_feature_view('fv_visits', 'ev_visits', '{customer_id}', 'event_time',
                                            ttl => '30 days');
SELECT 1 FROM aifactory.create_feature_view('fv_balance', 'ev_balance', '{customer_id}', 'event_time',
                                            created_time => 'created');
"""

OURS = ("SELECT aifactory.create_training_set('ts_ours', 'spine', 't', "
        "'{fv_orders,fv_visits,fv_balance}', 'label', materialized => true)")
DROP_OURS = "SELECT aifactory.drop_training_set('ts_ours')"

# What an expert writes with the indexes in place: one LATERAL ... LIMIT 1 per view.
LATERAL = """CREATE TABLE ts_lateral AS
SELECT s.id, s.customer_id, s.t, s.label, o.amount, o.items, v.minutes, v.pages, b.balance, b.score
FROM spine s
LEFT JOIN LATERAL (SELECT amount, items FROM ev_orders e
                   WHERE e.customer_id = s.customer_id AND e.event_time <= s.t
                   ORDER BY e.event_time DESC LIMIT 1) o ON true
LEFT JOIN LATERAL (SELECT minutes, pages FROM ev_visits e
                   WHERE e.customer_id = s.customer_id AND e.event_time <= s.t
                     AND e.event_time >= s.t - interval '30 days'
                   ORDER BY e.event_time DESC LIMIT 1) v ON true
LEFT JOIN LATERAL (SELECT balance, score FROM ev_balance e
                   WHERE e.customer_id = s.customer_id AND e.event_time <= s.t
                   ORDER BY e.event_time DESC, e.created DESC LIMIT 1) b ON true"""

# The index-free as-of join: spine rows and events of a view in one stream sorted by
# (customer, time, events before spine rows at equal times, created); a running max of
# an array whose first elements are the event's time (and created time) carries the
# latest event forward to each spine row -- one sort and one window pass per view.
WINDOW = """CREATE TABLE ts_window AS
WITH o AS (
    SELECT id, m[3] AS amount, m[4]::int AS items FROM (
        SELECT id, kind, max(a) OVER (PARTITION BY customer_id ORDER BY t, kind
                                      ROWS UNBOUNDED PRECEDING) AS m
        FROM (SELECT id, customer_id, t, 1 AS kind, NULL::float8[] AS a FROM spine
              UNION ALL
              SELECT NULL, customer_id, event_time, 0,
                     ARRAY[extract(epoch FROM event_time), 0, amount, items] FROM ev_orders) u) w
    WHERE kind = 1),
v AS (
    SELECT id, CASE WHEN m[1] >= extract(epoch FROM t - interval '30 days') THEN m[3] END AS minutes,
               CASE WHEN m[1] >= extract(epoch FROM t - interval '30 days') THEN m[4]::int END AS pages
    FROM (
        SELECT id, t, kind, max(a) OVER (PARTITION BY customer_id ORDER BY t, kind
                                         ROWS UNBOUNDED PRECEDING) AS m
        FROM (SELECT id, customer_id, t, 1 AS kind, NULL::float8[] AS a FROM spine
              UNION ALL
              SELECT NULL, customer_id, event_time, 0,
                     ARRAY[extract(epoch FROM event_time), 0, minutes, pages] FROM ev_visits) u) w
    WHERE kind = 1),
b AS (
    SELECT id, m[3] AS balance, m[4] AS score FROM (
        SELECT id, kind, max(a) OVER (PARTITION BY customer_id ORDER BY t, kind, created
                                      ROWS UNBOUNDED PRECEDING) AS m
        FROM (SELECT id, customer_id, t, 1 AS kind, NULL::timestamptz AS created, NULL::float8[] AS a FROM spine
              UNION ALL
              SELECT NULL, customer_id, event_time, 0, created,
                     ARRAY[extract(epoch FROM event_time), extract(epoch FROM created), balance, score]
              FROM ev_balance) u) w
    WHERE kind = 1)
SELECT s.id, s.customer_id, s.t, s.label, o.amount, o.items, v.minutes, v.pages, b.balance, b.score
FROM spine s JOIN o USING (id) JOIN v USING (id) JOIN b USING (id)"""

COLS = "id, customer_id, t, label, amount, items, minutes, pages, balance, score"
DIFF = """SELECT (SELECT count(*) FROM (SELECT {c} FROM {a} EXCEPT ALL SELECT {c} FROM {b}) d)
             + (SELECT count(*) FROM (SELECT {c} FROM {b} EXCEPT ALL SELECT {c} FROM {a}) d)"""


def log(msg):
    print(msg, flush=True)


def pgbench(script, seconds, protocol):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        out = subprocess.run([os.environ.get("AIF_PGBENCH", "pgbench"), "-n", "-c", "2", "-j", "2",
                              "-T", str(seconds), "-M", protocol, "-f", path],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    lat = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
    return lat, tps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spine", type=int, default=1000000)
    ap.add_argument("--events", type=int, default=5000000)
    ap.add_argument("--customers", type=int, default=100000)
    ap.add_argument("--pgbench-seconds", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(HERE, "out", "features.json"))
    args = ap.parse_args()

    conn = benchlib.connect()
    rows = []
    log("==> Generating the spine (%d rows) and 3 x %d events, indexes, ANALYZE"
        % (args.spine, args.events))
    t0 = time.perf_counter()
    benchlib.run_sql(conn, SETUP.format(spine=args.spine, events=args.events,
                                        customers=args.customers))
    for t in ("spine", "ev_orders", "ev_visits", "ev_balance"):
        benchlib.run_sql(conn, "VACUUM ANALYZE %s" % t)
    log("    %.0f s" % (time.perf_counter() - t0))
    benchlib.run_sql(conn, VIEWS)

    def ours():
        ms, _ = benchlib.run_sql(conn, OURS)
        return ms

    def by_hand(sql, table):
        def fn():
            benchlib.run_sql(conn, "DROP TABLE IF EXISTS %s" % table)
            ms, _ = benchlib.run_sql(conn, sql)
            return ms
        return fn

    def ours_again():
        benchlib.run_sql(conn, DROP_OURS)
        return ours()

    first = [True]

    def ours_fn():
        if first[0]:
            first[0] = False
            return ours()
        return ours_again()

    log("==> (1) building the training set, %d run(s) each, interleaved" % benchlib.RUNS)
    times = benchlib.measure([("ours", ours_fn), ("lateral", by_hand(LATERAL, "ts_lateral")),
                              ("window", by_hand(WINDOW, "ts_window"))], log=log)
    _, plan = benchlib.run_sql(conn, "EXPLAIN (COSTS OFF) SELECT * FROM (%s) q"
                               % benchlib.run_sql(conn, "SELECT query FROM aifactory.training_sets "
                                                  "WHERE name = 'ts_ours'")[1][0][0])
    plan_text = "\n".join(r[0] for r in plan)
    backward = plan_text.count("Index Scan Backward")
    _, d1 = benchlib.run_sql(conn, DIFF.format(c=COLS, a="ts_ours", b="ts_lateral"))
    _, d2 = benchlib.run_sql(conn, DIFF.format(c=COLS, a="ts_ours", b="ts_window"))
    ours_ms = benchlib.median(times["ours"])
    for key, label in (("lateral", "hand-written LATERAL ... LIMIT 1 (same indexes)"),
                       ("window", "hand-written as-of join by window functions (no index)")):
        peer = benchlib.median(times[key])
        rows.append(row("create_training_set(materialized => true), 1M x 3 views of 5M",
                        ms=ours_ms, runs=times["ours"], peer=label, peer_ms=peer,
                        ratio=ours_ms / peer, key="build_vs_" + key))
    log("    rows differing from LATERAL: %d, from the window query: %d; backward index scans "
        "in the plan: %d" % (d1[0][0], d2[0][0], backward))

    log("==> (2) online lookups: materialize fv_orders, then pgbench %d s per run" %
        args.pgbench_seconds)
    t0 = time.perf_counter()
    _, mat = benchlib.run_sql(conn, "SELECT * FROM aifactory.materialize('fv_orders')")
    mat_s = time.perf_counter() - t0
    benchlib.run_sql(conn, "VACUUM ANALYZE fv_orders_online")
    log("    materialize: %.1f s, %s" % (mat_s, mat[0]))
    pk = "\\set k random(1, %d)\nSELECT * FROM fv_orders_online WHERE customer_id = :k;\n" % args.customers
    of = ("\\set k random(1, %d)\nSELECT aifactory.online_features('fv_orders', :k::text);\n"
          % args.customers)
    for protocol in ("simple", "prepared"):
        res = {"pk": [], "of": []}
        for _ in range(2):
            for key, script in (("pk", pk), ("of", of)):
                res[key].append(pgbench(script, args.pgbench_seconds // 2, protocol))
        pk_lat = benchlib.median([r[0] for r in res["pk"]])
        of_lat = benchlib.median([r[0] for r in res["of"]])
        ratio = of_lat / pk_lat
        log("    %s: PK SELECT %.3f ms (%s tps), online_features %.3f ms (%s tps), ratio %.2f"
            % (protocol, pk_lat, [round(r[1]) for r in res["pk"]], of_lat,
               [round(r[1]) for r in res["of"]], ratio))
        rows.append(row("online_features('fv_orders', k), pgbench -c 2 -M %s" % protocol,
                        ms=of_lat, peer="SELECT * FROM fv_orders_online WHERE customer_id = k",
                        peer_ms=pk_lat, ratio=ratio, target="<= %.1f" % TARGET,
                        verdict="PASS" if ratio <= TARGET else "FAIL",
                        key="online_" + protocol))

    benchlib.print_table(rows, out=log)
    benchlib.write_json(args.out, {
        "benchmark": "features",
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "spine": args.spine, "events": args.events, "customers": args.customers,
        "rows_differing": {"lateral": d1[0][0], "window": d2[0][0]},
        "backward_index_scans_in_plan": backward,
        "materialize_seconds": mat_s,
        "rows": rows,
    })


if __name__ == "__main__":
    main()

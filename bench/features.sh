#!/usr/bin/env bash
# aifactory feature-store benchmark, run by hand (never part of scripts/test).
#
#   bench/features.sh            set up, measure, print the tables, write bench/out/features.json
#   (options go to bench/features.py: --spine N, --events N, --pgbench-seconds S, --out FILE)
#
# Measures, on a 1M-row spine and three feature views of 5M events each (100 000 customers,
# generated in SQL with setseed; the indexes docs/reference.md tells users to create):
#   (1) create_training_set(..., materialized => true) against hand-written CREATE TABLE AS
#       queries a PostgreSQL expert would write: the same LATERAL ... LIMIT 1 written by hand,
#       and an index-free as-of join by window functions (spine and events in one sorted
#       stream, the latest event carried forward); all three must give the same rows;
#   (2) online lookups under pgbench (2 clients, simple and prepared protocols):
#       SELECT aifactory.online_features('fv_orders', k) against
#       SELECT * FROM fv_orders_online WHERE customer_id = k        target ratio <= 1.2
#
# Set-up as bench/classify.sh (bench/bench.sh: packages, build, a throwaway cluster with
# PostgreSQL's defaults, stopped on the way out); runs bench/features.py with /usr/bin/python3.
#
# Environment:
#   AIF_BENCH_RUNS            timed runs of each build in (1), interleaved (default 1)
#   AIF_PORT_BASE             first port tried (5433)
#   AIF_KEEP=1                keep the cluster's directory under /tmp
set -Eeuo pipefail

# shellcheck source=bench/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
# the reference table is not used here: an empty script stands in for it
TABLE_SQL=/dev/null
bench_start

export AIF_BENCH_RUNS=${AIF_BENCH_RUNS:-1} AIF_BENCH_WARMUPS=${AIF_BENCH_WARMUPS:-0}
export AIF_PGBENCH=${AIF_PGBENCH:-$AIF_PGBIN/pgbench}
"$PY" "$AIF_ROOT/bench/features.py" "$@"

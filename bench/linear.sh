#!/usr/bin/env bash
# aifactory linear-regression benchmark, run by hand (never part of scripts/test).
#
#   bench/linear.sh              set up, measure, print the table, write bench/out/linear.json
#   bench/linear.sh --no-serial  skip the side run with max_parallel_workers_per_gather = 0
#   (other options go to bench/linear.py: --no-sklearn, --no-cursor, --out FILE)
#
# Installs missing Debian packages (the project's, plus python3-sklearn and python3-psycopg2),
# builds and installs the extension, starts a throwaway cluster (scripts/lib.sh: 127.0.0.1,
# shared_preload_libraries = 'aifactory', PostgreSQL's defaults otherwise, so
# max_parallel_workers_per_gather = 2), loads the reference table, runs bench/linear.py with
# Debian's /usr/bin/python3, and stops the cluster on the way out.
#
# Environment:
#   AIF_BENCH_TABLE_SQL  the table script (default: <repo>/../shared/bench/bench_table.sql)
#   AIF_BENCH_RUNS       timed runs per measurement (5), the median is reported
#   AIF_BENCH_WARMUPS    warm-up runs before them (1)
#   AIF_PORT_BASE        first port tried (5433)
#   AIF_KEEP=1           keep the cluster's directory under /tmp
set -Eeuo pipefail

# shellcheck source=bench/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
bench_start python3-sklearn python3-threadpoolctl

"$PY" "$AIF_ROOT/bench/linear.py" "$@"

#!/usr/bin/env bash
# aifactory hyperparameter-search benchmark (aifactory.tune), run by hand (never part of
# scripts/test).
#
#   bench/tune.sh                  set up, measure, print the tables, write bench/out/tune.json
#   bench/tune.sh --no-halving     skip (3), the side table (~1.5 of the ~9 minutes)
#   (other options go to bench/tune.py: --no-parallel, --no-tpe, --seeds N (5),
#    --halving-seeds N (3), --out FILE)
#
# Measures:
#   (1) parallel trials: tune(..., 'gbdt', space, 'random', 20 trials, 3 folds, seed => 1,
#       deploy => 'none') on bench200k (the first 200 000 rows of the bench table, target
#       label), workers => 1 against workers => 2, whole calls, interleaved; target speedup
#       time(1 worker) / time(2 workers) >= 1.6; also that both draw the same trials with the
#       same scores, the trials' summed seconds against the wall time, the CPU used by the
#       search and by the rest of the machine meanwhile, one train() of the winner;
#   (2) tpe against random search at 30 trials each, gbdt on bench20k (the first 20 000
#       rows), a space whose good region is narrow, metric log_loss, seeds 1..5: the best CV
#       score of each, the medians, how many seeds tpe wins; no target;
#   (3) successive halving (27 candidates) against random search at the same budget in trees
#       (4 trials) and over the same 27 candidates; side table, no target.
#
# Installs missing Debian packages (the project's, plus python3-psycopg2 and python3-numpy),
# builds and installs the extension, starts a throwaway cluster (scripts/lib.sh: 127.0.0.1,
# shared_preload_libraries = 'aifactory', max_worker_processes = 16, PostgreSQL's defaults
# otherwise; aifactory.max_workers 2), loads the reference table, runs bench/tune.py with
# Debian's /usr/bin/python3, and stops the cluster on the way out.
#
# Environment:
#   AIF_BENCH_TABLE_SQL    the table script (default: <repo>/../shared/bench/bench_table.sql)
#   AIF_BENCH_RUNS         timed runs of each side of (1), the median is reported (3)
#   AIF_PORT_BASE          first port tried (5433)
#   AIF_KEEP=1             keep the cluster's directory under /tmp
set -Eeuo pipefail

# shellcheck source=bench/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
bench_start

export AIF_BENCH_RUNS=${AIF_BENCH_RUNS:-3}
"$PY" "$AIF_ROOT/bench/tune.py" "$@"

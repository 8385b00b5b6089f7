#!/usr/bin/env bash
# aifactory tree-ensemble benchmark (gbdt, random_forest), run by hand (never part of
# scripts/test).
#
#   bench/trees.sh               set up, measure, print the tables, write bench/out/trees.json
#   bench/trees.sh --no-forest   skip (3), the slow part (sklearn's one-thread random forest
#                                fit takes 7-10 of the 12-16 minutes)
#   (other options go to bench/trees.py: --no-datasets, --no-phases, --out FILE)
#
# Measures, against XGBoost (Debian's python3-xgboost, tree_method='hist') and scikit-learn
# fitting arrays already in memory:
#   (1) gbdt on the bench table (1M x 20, target label; 100 trees, max_depth 6, learning
#       rate 0.3): the whole default train() call, scan included, vs. xgboost.train fit alone
#       with nthread=1 on the 750k rows of bench_train (target ratio <= 1.0); accuracy of
#       both on the same held-out quarter, bench_test = the rows with id % 4 = 0 (target
#       |difference| <= 0.3 pp);
#   (2) prediction over the 1M rows in SQL, sum(predict(...)) with
#       max_parallel_workers_per_gather = 0 (one core), vs. Booster.predict with nthread=1
#       (target ratio <= 1.5); the parallel plan and XGBoost's default threads beside it;
#   (3) random_forest (100 trees, max_depth 12) vs. sklearn RandomForestClassifier(n_jobs=1)
#       on bench_train: time and accuracy on bench_test, no target;
#   (4) accuracy / r2 on sklearn's bundled small data sets (iris, wine, breast_cancer,
#       digits, diabetes), gbdt vs. XGBoost and random_forest vs. sklearn, the same 75/25
#       split on both sides (bench/datasets_trees.py).
#
# Installs missing Debian packages (the project's, plus python3-xgboost, python3-sklearn and
# python3-psycopg2), builds and installs the extension, starts a throwaway cluster
# (scripts/lib.sh: 127.0.0.1, shared_preload_libraries = 'aifactory', PostgreSQL's defaults
# otherwise), loads the reference table, runs bench/trees.py with Debian's /usr/bin/python3,
# and stops the cluster on the way out.
#
# Environment:
#   AIF_BENCH_TABLE_SQL    the table script (default: <repo>/../shared/bench/bench_table.sql)
#   AIF_BENCH_RUNS         timed runs of each measurement of (1) (2), the median is reported (3)
#   AIF_BENCH_WARMUPS      warm-up runs before them (1)
#   AIF_BENCH_RF_RUNS      timed runs of (3) (1); no warm-up (AIF_BENCH_RF_WARMUPS, 0)
#   AIF_PORT_BASE          first port tried (5433)
#   AIF_KEEP=1             keep the cluster's directory under /tmp
set -Eeuo pipefail

# shellcheck source=bench/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
bench_start python3-xgboost python3-sklearn python3-scipy python3-threadpoolctl

export AIF_BENCH_RUNS=${AIF_BENCH_RUNS:-3} AIF_BENCH_WARMUPS=${AIF_BENCH_WARMUPS:-1}
export AIF_BENCH_RF_RUNS=${AIF_BENCH_RF_RUNS:-1} AIF_BENCH_RF_WARMUPS=${AIF_BENCH_RF_WARMUPS:-0}
"$PY" "$AIF_ROOT/bench/trees.py" "$@"

#!/usr/bin/env bash
# aifactory classification and clustering benchmark, run by hand (never part of scripts/test).
#
#   bench/classify.sh               set up, measure, print the tables, write bench/out/classify.json
#   bench/classify.sh --no-kmeans   skip (2), the slow part (~3.5 of the ~4.5 minutes)
#   (other options go to bench/classify.py: --no-datasets, --no-single-thread,
#    --kmeans-single-thread, --out FILE)
#
# Measures, against scikit-learn fitting arrays already in memory (Debian's python3-sklearn):
#   (1) logistic regression on the bench table (1M x 20, target label): the whole default
#       train() call vs. LogisticRegression(solver='lbfgs') fit alone; accuracy of both on
#       the same held-out quarter (bench_test = the rows with id % 4 = 0);
#   (2) k-means, k = 8, on f1..f20: train() vs. KMeans(n_clusters=8, n_init=10).fit, inertia;
#   (3) accuracy / r2 on sklearn's bundled small data sets (iris, wine, breast_cancer, digits,
#       diabetes), the same 75/25 split on both sides (bench/datasets.py).
#
# Installs missing Debian packages (the project's, plus python3-sklearn and python3-psycopg2),
# builds and installs the extension, starts a throwaway cluster (scripts/lib.sh: 127.0.0.1,
# shared_preload_libraries = 'aifactory', PostgreSQL's defaults otherwise), loads the reference
# table, runs bench/classify.py with Debian's /usr/bin/python3, and stops the cluster on the
# way out.
#
# Environment:
#   AIF_BENCH_TABLE_SQL       the table script (default: <repo>/../shared/bench/bench_table.sql)
#   AIF_BENCH_RUNS            timed runs of each measurement of (1) (3), the median is reported
#   AIF_BENCH_WARMUPS         warm-up runs before them (1)
#   AIF_BENCH_KMEANS_RUNS     timed runs of each k-means fit (2); no warm-up
#                             (AIF_BENCH_KMEANS_WARMUPS, 0)
#   AIF_SHARED_BUFFERS        shared_buffers of the throwaway cluster (PostgreSQL's 128MB
#                             by default; e.g. 2GB to hold the 206 MB table in the buffer pool)
#   AIF_PORT_BASE             first port tried (5433)
#   AIF_KEEP=1                keep the cluster's directory under /tmp
set -Eeuo pipefail

# shellcheck source=bench/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
bench_start python3-sklearn python3-scipy python3-threadpoolctl

export AIF_BENCH_RUNS=${AIF_BENCH_RUNS:-3} AIF_BENCH_WARMUPS=${AIF_BENCH_WARMUPS:-1}
export AIF_BENCH_KMEANS_RUNS=${AIF_BENCH_KMEANS_RUNS:-2}
"$PY" "$AIF_ROOT/bench/classify.py" "$@"

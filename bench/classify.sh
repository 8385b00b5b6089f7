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
#   AIF_PORT_BASE             first port tried (5433)
#   AIF_KEEP=1                keep the cluster's directory under /tmp
set -Eeuo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$AIF_ROOT"

PY=/usr/bin/python3   # Debian's python3, where python3-sklearn lives; not a python3 on PATH
TABLE_SQL=${AIF_BENCH_TABLE_SQL:-$(dirname "$AIF_ROOT")/shared/bench/bench_table.sql}
DB=bench
TMP=""
DATA=""
STARTED=0

case ${1:-} in
-h | --help)
	sed -n '2,/^set -E/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
esac

finish() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ "$STARTED" -eq 1 ]; then
		if [ "$rc" -ne 0 ]; then
			aif_cluster_log_tail "$DATA" 30
		fi
		aif_say "Stopping the server"
		aif_cluster_stop "$DATA"
	fi
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		if [ "${AIF_KEEP:-0}" = 1 ]; then
			aif_say "Kept $TMP (AIF_KEEP=1)"
		else
			rm -rf -- "$TMP"
		fi
	fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -r "$TABLE_SQL" ]; then
	aif_error "bench table script not found: $TABLE_SQL (set AIF_BENCH_TABLE_SQL)"
	exit 1
fi

# The project's packages and the benchmark's, one apt-get for all that are missing.
AIF_PACKAGES+=(python3-sklearn python3-psycopg2 python3-numpy python3-scipy python3-threadpoolctl)
aif_ensure_packages
aif_find_pg
aif_server_user
aif_build

TMP=$(aif_make_tmpdir bench)
DATA=$TMP/data
aif_cluster_init "$DATA"
STARTED=1
aif_cluster_start "$DATA" demo # demo: durable defaults (fsync on), like a user's server
aif_client_env
export PGDATABASE=$DB

aif_say "Creating database $DB and loading $TABLE_SQL"
aif_fresh_db "$DB" aifactory
SECONDS=0
aif_psql -d "$DB" -f "$TABLE_SQL" >/dev/null
aif_say "Loaded in ${SECONDS}s"

export AIF_BENCH_RUNS=${AIF_BENCH_RUNS:-3} AIF_BENCH_WARMUPS=${AIF_BENCH_WARMUPS:-1}
export AIF_BENCH_KMEANS_RUNS=${AIF_BENCH_KMEANS_RUNS:-2}
mkdir -p "$AIF_ROOT/bench/out"
"$PY" "$AIF_ROOT/bench/classify.py" "$@"

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
AIF_PACKAGES+=(python3-sklearn python3-psycopg2 python3-numpy python3-threadpoolctl)
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

mkdir -p "$AIF_ROOT/bench/out"
"$PY" "$AIF_ROOT/bench/linear.py" "$@"

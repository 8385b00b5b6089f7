# Shared set-up of the benchmark scripts (bench/linear.sh, bench/classify.sh); sourced.
#
# bench_start PACKAGE...  installs the project's Debian packages and these, builds and
#                         installs the extension, starts a throwaway cluster (scripts/lib.sh),
#                         creates database $DB and loads the reference table into it; the
#                         cluster is stopped and its directory removed when the script exits.
# Afterwards $PY is Debian's python3 (where python3-sklearn lives) and PGDATABASE is $DB.

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$AIF_ROOT"

PY=/usr/bin/python3   # not a python3 on PATH
TABLE_SQL=${AIF_BENCH_TABLE_SQL:-$(dirname "$AIF_ROOT")/shared/bench/bench_table.sql}
DB=bench
TMP=""
DATA=""
STARTED=0

# -h / --help: the calling script's header comment
case ${1:-} in
-h | --help)
	sed -n '2,/^set -E/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
esac

bench_finish() {
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
trap bench_finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_start() {
	if [ ! -r "$TABLE_SQL" ]; then
		aif_error "bench table script not found: $TABLE_SQL (set AIF_BENCH_TABLE_SQL)"
		exit 1
	fi

	# the project's packages and the benchmark's, one apt-get for all that are missing
	AIF_PACKAGES+=(python3-psycopg2 python3-numpy "$@")
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
}

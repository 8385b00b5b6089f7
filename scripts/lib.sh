# shellcheck shell=bash
# Helpers shared by scripts/test, scripts/demo and test/system/run: Debian packages, the
# build, the server's OS user, and throwaway clusters.  Source it; it defines functions and
# a few AIF_* variables and runs nothing else.
#
# Variables set here or by the functions below:
#   AIF_ROOT         the repository's top directory
#   AIF_PG_CONFIG    pg_config of PostgreSQL 15 (also exported as PG_CONFIG for make); set
#                    beforehand to build against and run another installation, e.g. a
#                    private relocated copy of /usr/lib/postgresql/15 and its share/include
#   AIF_PGBIN        its bin directory (initdb, pg_ctl, psql, ...)
#   AIF_SERVER_USER  OS user that runs the server: postgres when we are root, else ourselves
#   AIF_AS_SERVER    command prefix running a command as that user ("" when it is us);
#                    meant to be used unquoted: $AIF_AS_SERVER pg_ctl ...
#   AIF_PGPORT       port of the cluster started by aif_cluster_start

AIF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
AIF_PG_MAJOR=15
AIF_PACKAGES=(
	postgresql-15 postgresql-server-dev-15 libopenblas-dev liblapacke-dev
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl make gcc
)
AIF_PGUSER=postgres          # database superuser made by initdb -U
AIF_PGHOST=127.0.0.1

aif_say() { printf '==> %s\n' "$*"; }
aif_warn() { printf 'WARNING: %s\n' "$*" >&2; }
aif_error() { printf 'ERROR: %s\n' "$*" >&2; }
aif_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root: directly when we are root, else through sudo.
aif_root_do() {
	if aif_is_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		aif_error "need root for: $*  (run as root or install sudo)"
		return 1
	fi
}

# Print the packages of "$@" that are not installed, one a line.
aif_missing_packages() {
	local p
	for p in "$@"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			printf '%s\n' "$p"
		fi
	done
}

# Install the Debian packages the project needs; apt-get update runs only if one is missing.
aif_ensure_packages() {
	local missing
	if ! command -v dpkg-query >/dev/null 2>&1; then
		aif_error "dpkg-query not found: these scripts need Debian 12 (bookworm)"
		return 1
	fi
	mapfile -t missing < <(aif_missing_packages "${AIF_PACKAGES[@]}")
	if [ "${#missing[@]}" -eq 0 ]; then
		aif_say "Debian packages: all present"
		return 0
	fi
	aif_say "Installing Debian packages: ${missing[*]}"
	if ! aif_root_do env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null ||
		! aif_root_do env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${missing[@]}" </dev/null; then
		aif_error "could not install: ${missing[*]}"
		return 1
	fi
	mapfile -t missing < <(aif_missing_packages "${AIF_PACKAGES[@]}")
	if [ "${#missing[@]}" -ne 0 ]; then
		aif_error "still missing after apt-get install: ${missing[*]}"
		return 1
	fi
}

# Locate PostgreSQL 15's pg_config and bin directory (never the pg_wrapper in /usr/bin).
aif_find_pg() {
	AIF_PG_CONFIG=${AIF_PG_CONFIG:-/usr/lib/postgresql/$AIF_PG_MAJOR/bin/pg_config}
	if [ ! -x "$AIF_PG_CONFIG" ]; then
		AIF_PG_CONFIG=$(command -v pg_config || true)
	fi
	if [ -z "$AIF_PG_CONFIG" ] || ! AIF_PGBIN=$("$AIF_PG_CONFIG" --bindir); then
		aif_error "pg_config for PostgreSQL $AIF_PG_MAJOR not found"
		return 1
	fi
	export PG_CONFIG=$AIF_PG_CONFIG
	export PATH="$AIF_PGBIN:$PATH"
}

# make and make install the extension (make install through sudo when not root and the
# install directories are not ours).
aif_build() {
	local jobs=${AIF_MAKE_JOBS:-2}
	aif_say "Building the extension (make -j$jobs)"
	if ! make -C "$AIF_ROOT" -j"$jobs" PG_CONFIG="$AIF_PG_CONFIG"; then
		aif_error "the build failed (make -C $AIF_ROOT)"
		return 1
	fi
	aif_say "Installing the extension (make install)"
	local pkglib share
	pkglib=$("$AIF_PG_CONFIG" --pkglibdir)
	share=$("$AIF_PG_CONFIG" --sharedir)/extension
	if aif_is_root || { [ -w "$pkglib" ] && [ -w "$share" ]; }; then
		make -s -C "$AIF_ROOT" install PG_CONFIG="$AIF_PG_CONFIG"
	else
		aif_root_do make -s -C "$AIF_ROOT" install PG_CONFIG="$AIF_PG_CONFIG"
	fi || {
		aif_error "make install failed"
		return 1
	}
}

# Decide who runs the server.  PostgreSQL refuses to run as root, so root uses the
# postgres OS user (created if missing).
aif_server_user() {
	if aif_is_root; then
		AIF_SERVER_USER=postgres
		if ! id -u postgres >/dev/null 2>&1; then
			aif_say "Creating the postgres OS user"
			useradd --system --user-group --home-dir /var/lib/postgresql \
				--shell /bin/bash postgres || return 1
		fi
		AIF_AS_SERVER="runuser -u postgres --"
	else
		AIF_SERVER_USER=$(id -un)
		AIF_AS_SERVER=""
	fi
}

# Run "$@" as the server's OS user, from / so that an unreadable cwd does not bother it.
aif_as_server() {
	# shellcheck disable=SC2086  # AIF_AS_SERVER is a command prefix, split on purpose
	(cd / && $AIF_AS_SERVER "$@")
}

# True when the server's OS user can create files in directory $1 (all the path's parents
# traversable).
aif_server_can_write() {
	aif_as_server test -d "$1" -a -w "$1" -a -x "$1" 2>/dev/null
}

# Give directory $1 to the server's OS user.
aif_give_to_server() {
	if aif_is_root; then
		chown "$AIF_SERVER_USER:" "$1"
	fi
}

# initdb into $1 (absent or empty, its parent writable by the server user).
aif_cluster_init() {
	local data=$1
	aif_say "initdb $data (as $AIF_SERVER_USER)"
	if ! aif_as_server "$AIF_PGBIN/initdb" -D "$data" -A trust -U "$AIF_PGUSER" \
		--encoding UTF8 --locale C --no-sync >"${data%/}.initdb.log" 2>&1; then
		cat "${data%/}.initdb.log" >&2
		aif_error "initdb failed"
		return 1
	fi
	rm -f "${data%/}.initdb.log"
	# Our settings live in their own file, rewritten on every start.
	printf "\ninclude_if_exists = 'aifactory_cluster.conf'\n" >>"$data/postgresql.conf"
}

# Write the cluster settings: aif_cluster_config DATA PORT MODE (MODE: test or demo).
aif_cluster_config() {
	local data=$1 port=$2 mode=$3 sockdir=$1 conf=$1/aifactory_cluster.conf
	# A Unix socket path is limited to 107 bytes; past that, TCP only.
	if [ "${#sockdir}" -gt 80 ]; then
		sockdir=
	fi
	{
		echo "# Written by scripts/lib.sh; rewritten at every start."
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$sockdir'"
		echo "shared_preload_libraries = 'aifactory'"
		echo "max_worker_processes = 16"
		echo "lc_messages = 'C'"
		echo "logging_collector = on"
		echo "log_directory = 'log'"
		echo "log_filename = 'postgresql.log'"
		echo "log_rotation_age = 0"
		echo "log_rotation_size = 0"
		echo "log_line_prefix = '%m [%p] %q%u@%d '"
		# the benchmarks may size the buffer pool (PostgreSQL's default is 128MB)
		if [ -n "${AIF_SHARED_BUFFERS:-}" ]; then
			echo "shared_buffers = '$AIF_SHARED_BUFFERS'"
		fi
		if [ "$mode" = test ]; then
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} >"$conf"
	aif_give_to_server "$conf"
}

# The server log of cluster $1 (logging_collector writes log/postgresql.log; what the
# postmaster says before the collector starts goes to startup.log).
aif_cluster_log() {
	echo "$1/log/postgresql.log"
}

# Print the last $2 (default 50) lines of the server's logs.
aif_cluster_log_tail() {
	local data=$1 n=${2:-50} f
	for f in "$data/startup.log" "$(aif_cluster_log "$data")"; do
		if [ -s "$f" ]; then
			echo "---- last $n lines of $f ----"
			tail -n "$n" "$f"
			echo "---- end of $f ----"
		fi
	done
}

# True when the server on 127.0.0.1:$1 accepts connections, waiting up to $2 (30) seconds.
aif_pg_ready() {
	"$AIF_PGBIN/pg_isready" -q -h "$AIF_PGHOST" -p "$1" -U "$AIF_PGUSER" -d postgres -t "${2:-30}"
}

# True when nothing accepts connections on 127.0.0.1:$1.
aif_port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Start cluster $1 in mode $2 (test|demo) on a free port from ${AIF_PORT_BASE:-5433} up;
# on success AIF_PGPORT is the port and the server accepts connections.
aif_cluster_start() {
	local data=$1 mode=$2 port=${AIF_PORT_BASE:-5433} tries=0
	while [ "$tries" -lt 25 ]; do
		tries=$((tries + 1))
		while ! aif_port_free "$port"; do
			port=$((port + 1))
		done
		aif_cluster_config "$data" "$port" "$mode"
		if [ -f "$data/startup.log" ]; then
			: >"$data/startup.log"
		fi
		if [ -f "$(aif_cluster_log "$data")" ]; then
			: >"$(aif_cluster_log "$data")"
		fi
		aif_say "Starting the server on 127.0.0.1:$port (data $data)"
		if aif_as_server "$AIF_PGBIN/pg_ctl" -D "$data" -l "$data/startup.log" -w -t 120 \
			start >/dev/null; then
			if aif_pg_ready "$port" 60; then
				AIF_PGPORT=$port
				return 0
			fi
			aif_error "the server started but does not accept connections"
			aif_cluster_log_tail "$data"
			return 1
		fi
		# Lost a race for the port: try the next one.  With logging_collector on, the
		# postmaster's complaint lands in the server log rather than startup.log.
		if grep -qs -e 'could not bind' -e 'Address already in use' \
			"$data/startup.log" "$(aif_cluster_log "$data")"; then
			aif_warn "port $port was taken meanwhile; trying another"
			port=$((port + 1))
			continue
		fi
		aif_error "the server did not start"
		aif_cluster_log_tail "$data"
		return 1
	done
	aif_error "no free port found"
	return 1
}

# True when a postmaster runs on data directory $1.
aif_cluster_running() {
	[ -f "$1/postmaster.pid" ] &&
		aif_as_server "$AIF_PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# Stop cluster $1 if it runs: fast, then immediate.
aif_cluster_stop() {
	local data=$1
	aif_cluster_running "$data" || return 0
	aif_as_server "$AIF_PGBIN/pg_ctl" -D "$data" -w -t 60 -m fast stop >/dev/null 2>&1 ||
		aif_as_server "$AIF_PGBIN/pg_ctl" -D "$data" -w -t 30 -m immediate stop >/dev/null 2>&1 ||
		{
			aif_warn "could not stop the server of $data"
			return 1
		}
}

# Point the libpq clients of this shell at the cluster on AIF_PGPORT.
aif_client_env() {
	export PGHOST=$AIF_PGHOST PGPORT=$AIF_PGPORT PGUSER=$AIF_PGUSER PGDATABASE=postgres
	export PSQLRC=/dev/null
	unset PGSERVICE PGPASSWORD PGOPTIONS
}

# psql as the invoking user over TCP: quiet, stop on the first error.
aif_psql() {
	"$AIF_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

# Make database $1 afresh (dropping a leftover) and create the extensions $2...
aif_fresh_db() {
	local db=$1 ext sql=""
	shift
	"$AIF_PGBIN/dropdb" --if-exists --force "$db" >/dev/null 2>&1 || true
	"$AIF_PGBIN/createdb" "$db" || return 1
	for ext in "$@"; do
		sql+="CREATE EXTENSION $ext; "
	done
	if [ -n "$sql" ]; then
		aif_psql -d "$db" -c "$sql" || return 1
	fi
}

# A directory under /tmp for a throwaway cluster that the server's OS user owns: prints it.
aif_make_tmpdir() {
	local base=${TMPDIR:-/tmp} dir
	if aif_is_root; then
		base=/tmp # TMPDIR might not be reachable by postgres
	fi
	dir=$(mktemp -d "$base/aifactory-$1.XXXXXX") || return 1
	chmod 755 "$dir"
	aif_give_to_server "$dir"
	echo "$dir"
}

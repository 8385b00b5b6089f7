#!/usr/bin/env bash
# The server survives a restart with aifactory in shared_preload_libraries, and the
# extension is still installed in the test's database afterwards.
set -euo pipefail

q() { "$AIF_PGBIN/psql" -X -At -v ON_ERROR_STOP=1 -c "$1"; }

q "SHOW shared_preload_libraries" | grep -qw aifactory ||
	{ echo "aifactory is not preloaded"; exit 1; }
[ "$(q "SELECT count(*) FROM pg_extension WHERE extname = 'aifactory'")" = 1 ] ||
	{ echo "extension missing before the restart"; exit 1; }

# shellcheck disable=SC2086  # a command prefix, split on purpose
$AIF_AS_SERVER "$AIF_PGBIN/pg_ctl" -D "$AIF_PGDATA" -w -t 120 -m fast restart >/dev/null
"$AIF_PGBIN/pg_isready" -q -t 60

n=$(q "SELECT count(*) FROM pg_extension WHERE extname = 'aifactory'")
if [ "$n" != 1 ]; then
	echo "after the restart: $n aifactory extensions in $PGDATABASE, expected 1"
	exit 1
fi
echo "restart ok"

#!/usr/bin/env bash
# A traffic split or logging change committed in one session is used by the next statement
# of another session that already cached the project's serving settings; an uncommitted
# one is not.  Session A is a psql kept open on a pair of fifos (its backend keeps its
# caches between statements); B is a psql per statement, or one kept open.
# Project p: v1 predicts 2 at x = 1 (y = 2x), v2 predicts -2 (y = -2x).
set -euo pipefail

q() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
fail() {
	echo "FAIL: $*"
	exit 1
}
# ---- sessions on fifos ----------------------------------------------------------------------

declare -A SESSION_IN SESSION_OUT SESSION_PID
MARK=@@aif-done@@

# session_start NAME: a psql reading NAME.in and writing NAME.out
session_start() {
	local name=$1 fd_in fd_out
	rm -f "$name.in" "$name.out"
	mkfifo "$name.in" "$name.out"
	psql -X -At -q -v ON_ERROR_STOP=0 -v VERBOSITY=terse <"$name.in" >"$name.out" 2>&1 &
	SESSION_PID[$name]=$!
	exec {fd_in}>"$name.in"
	exec {fd_out}<"$name.out"
	SESSION_IN[$name]=$fd_in
	SESSION_OUT[$name]=$fd_out
}

# session_send NAME SQL: send one statement, do not wait
session_send() {
	printf '%s;\n\\echo %s\n' "$2" "$MARK" >&"${SESSION_IN[$1]}"
}

# session_recv NAME: print the output of the statement sent last (up to 60 s)
session_recv() {
	local line out=""
	while IFS= read -r -t 60 line <&"${SESSION_OUT[$1]}"; do
		if [ "$line" = "$MARK" ]; then
			printf '%s\n' "$out"
			return 0
		fi
		out+="${out:+$'\n'}$line"
	done
	fail "session $1 did not answer (so far: $out)"
}

# s NAME SQL: run one statement in session NAME and print its output
s() {
	session_send "$1" "$2"
	session_recv "$1"
}

session_stop() {
	local name=$1 fd_in fd_out
	[ -n "${SESSION_PID[$name]:-}" ] || return 0
	fd_in=${SESSION_IN[$name]}
	fd_out=${SESSION_OUT[$name]}
	{ printf '\\q\n' >&"$fd_in"; } 2>/dev/null || true
	exec {fd_in}>&- {fd_out}<&-
	wait "${SESSION_PID[$name]}" 2>/dev/null || true
	unset "SESSION_PID[$name]"
}

cleanup() {
	local name
	for name in "${!SESSION_PID[@]}"; do
		kill "${SESSION_PID[$name]}" 2>/dev/null || true
		wait "${SESSION_PID[$name]}" 2>/dev/null || true
	done
}
trap cleanup EXIT

# expect WHAT GOT WANT
expect() {
	if [ "$2" != "$3" ]; then
		fail "$1: got '$2', expected '$3'"
	fi
	echo "ok: $1 ($2)"
}

# ---- set-up ---------------------------------------------------------------------------------

q "CREATE TABLE t AS SELECT i::float8 AS x, 2 * i::float8 AS up, -2 * i::float8 AS down
   FROM generate_series(1, 20) i" >/dev/null
q "SELECT version FROM aifactory.train('p', 'SELECT x, up FROM t', 'up', seed => 1)" >/dev/null
q "SELECT version FROM aifactory.train('p', 'SELECT x, down FROM t', 'down', seed => 1, deploy => 'none')" >/dev/null

KEYED="SELECT round(aifactory.predict('p', ARRAY[1.0]::float8[], 'user-1')::numeric, 6)::float8"
LOGGED="SELECT count(*) FROM aifactory.prediction_log"

session_start A
expect "A, no split: the deployed v1" "$(s A "$KEYED")" 2

# ---- a committed split reaches A's next statement ---------------------------------------

q "SELECT * FROM aifactory.set_traffic('p', '{\"2\": 1}')" >/dev/null
expect "after B set a split {2: 1}, A's next statement uses v2" "$(s A "$KEYED")" -2
expect "A's route() agrees" "$(s A "SELECT aifactory.route('p', 'user-1')")" 2
expect "A's unkeyed predict still serves the deployed v1" \
	"$(s A "SELECT round(aifactory.predict('p', ARRAY[1.0]::float8[])::numeric, 6)::float8")" 2

session_start B
s B "BEGIN" >/dev/null
s B "SELECT * FROM aifactory.set_traffic('p', NULL)" >/dev/null
expect "B removed the split in an open transaction: B's next statement uses v1" "$(s B "$KEYED")" 2
expect "A does not see B's uncommitted change" "$(s A "$KEYED")" -2
s B "COMMIT" >/dev/null
expect "B committed: A's next statement uses the deployed v1" "$(s A "$KEYED")" 2
session_stop B

# ---- logging switched on by another session -----------------------------------------------

expect "logging off: A's keyed predictions are not logged" "$(q "$LOGGED")" 0
q "SELECT aifactory.set_logging('p', true)" >/dev/null
s A "$KEYED" >/dev/null
expect "B turned logging on: A's next keyed predict is logged and visible to others" "$(q "$LOGGED")" 1
s A "SELECT sum(aifactory.predict('p', ARRAY[x], 'row-' || x)) FROM t" >/dev/null
expect "a statement's predictions are all there when it ends" "$(q "$LOGGED")" 21
s A "BEGIN" >/dev/null
s A "$KEYED" >/dev/null
expect "inside A's open transaction, its predictions are not visible to others" "$(q "$LOGGED")" 21
s A "COMMIT" >/dev/null
expect "after A's COMMIT they are" "$(q "$LOGGED")" 22
q "SELECT aifactory.set_logging('p', false)" >/dev/null
s A "$KEYED" >/dev/null
expect "B turned logging off: A's next keyed predict is not logged" "$(q "$LOGGED")" 22

session_stop A
echo "traffic ok"

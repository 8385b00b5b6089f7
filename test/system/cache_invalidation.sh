#!/usr/bin/env bash
# A deploy committed in one session is used by the next statement of every other session
# that already cached the project's deployment; an uncommitted or rolled-back deploy is not;
# one statement predicts with one model even if a deploy commits while it runs.
#
# Session A is a psql kept open on a pair of fifos, so that its backend keeps its caches
# between statements; session B is a psql per statement (plus one kept open for an
# uncommitted deploy).  Project p: v1 predicts 2 at x = 1 (y = 2x), v2 predicts -2 (y = -2x).
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
expect "train p v1 (y = 2x), deployed" \
	"$(q "SELECT version || ' ' || deployed FROM aifactory.train('p', 'SELECT x, up FROM t', 'up', seed => 1)")" "1 true"
expect "train p v2 (y = -2x), not deployed" \
	"$(q "SELECT version || ' ' || deployed FROM aifactory.train('p', 'SELECT x, down FROM t', 'down', seed => 1, deploy => 'none')")" "2 false"

PRED="SELECT round(aifactory.predict('p', ARRAY[1.0]::float8[])::numeric, 6)::float8"

session_start A
a_pid=$(s A "SELECT pg_backend_pid()")
expect "A predicts with v1 (and caches p's deployment)" "$(s A "$PRED")" 2
expect "A predicts again with v1" "$(s A "$PRED")" 2

# ---- a committed deploy reaches A's next statement ---------------------------------------

q "SELECT * FROM aifactory.deploy('p', 2)" >/dev/null
expect "after B deployed v2, A's next statement predicts with v2" "$(s A "$PRED")" -2
expect "A's backend is the same one" "$(s A "SELECT pg_backend_pid()")" "$a_pid"
q "SELECT * FROM aifactory.rollback('p')" >/dev/null
expect "after B rolled back to v1, A predicts with v1" "$(s A "$PRED")" 2
q "SELECT * FROM aifactory.deploy('p', 'latest')" >/dev/null
expect "after B deployed latest (v2), A predicts with v2" "$(s A "$PRED")" -2

# ---- deploys that do not commit --------------------------------------------------------------

q "BEGIN; SELECT * FROM aifactory.deploy('p', 1); ROLLBACK;" >/dev/null
expect "B deployed v1 and rolled back: A still predicts with v2" "$(s A "$PRED")" -2

session_start B
s B "BEGIN" >/dev/null
expect "B deploys v1 in an open transaction" "$(s B "SELECT version FROM aifactory.deploy('p', 1)")" 1
expect "B's own next statement predicts with v1" "$(s B "$PRED")" 2
expect "A does not see B's uncommitted deploy" "$(s A "$PRED")" -2
expect "nor does a new session" "$(q "$PRED")" -2
s B "ROLLBACK" >/dev/null
expect "B rolled back: B predicts with v2 again" "$(s B "$PRED")" -2
expect "and A with v2" "$(s A "$PRED")" -2
s B "BEGIN" >/dev/null
s B "SELECT version FROM aifactory.deploy('p', 1)" >/dev/null
expect "B deployed v1 again, not committed: A predicts with v2" "$(s A "$PRED")" -2
s B "COMMIT" >/dev/null
expect "B committed: A's next statement predicts with v1" "$(s A "$PRED")" 2
session_stop B

# ---- one statement, one model ------------------------------------------------------------------
# A runs a slow statement (about 2 s); B deploys v2 while it runs.  Every row of the
# statement must come from the same model.

session_send A "SELECT string_agg(DISTINCT round(aifactory.predict('p', ARRAY[1.0]::float8[])::numeric, 6)::text, ',')
                FROM (SELECT pg_sleep(0.005) FROM generate_series(1, 400)) s"
for _ in $(seq 100); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = $a_pid AND state = 'active'")" = 1 ] && break
	sleep 0.1
done
sleep 0.3
q "SELECT * FROM aifactory.deploy('p', 2)" >/dev/null
expect "a statement running while B deployed used one model for every row" "$(session_recv A)" 2.000000
expect "A's next statement uses v2" "$(s A "$PRED")" -2

# ---- A inside an explicit transaction (documented, see the note printed) -----------------

s A "BEGIN" >/dev/null
expect "A, in a READ COMMITTED transaction, predicts with v2" "$(s A "$PRED")" -2
q "SELECT * FROM aifactory.deploy('p', 1)" >/dev/null
in_txn=$(s A "$PRED")
in_txn_table=$(s A "SELECT m.version FROM aifactory.deployments d JOIN aifactory.models m ON m.id = d.model_id ORDER BY d.id DESC LIMIT 1")
s A "COMMIT" >/dev/null
expect "after A's transaction ends, A predicts with v1" "$(s A "$PRED")" 2
case $in_txn in
2) note="the new deployment (v1)" ;;
-2) note="the old deployment (v2)" ;;
*) fail "A's prediction inside its transaction was '$in_txn'" ;;
esac
echo "NOTE: B deployed v1 and committed while A was inside a READ COMMITTED transaction that had"
echo "      already predicted; A's next statement in that transaction predicted with $note,"
echo "      while a query of aifactory.deployments in the same transaction showed version $in_txn_table."

s A "BEGIN ISOLATION LEVEL REPEATABLE READ" >/dev/null
expect "A, in a REPEATABLE READ transaction, predicts with v1" "$(s A "$PRED")" 2
q "SELECT * FROM aifactory.deploy('p', 2)" >/dev/null
expect "B deployed v2: inside A's REPEATABLE READ transaction, still v1 (its snapshot)" "$(s A "$PRED")" 2
s A "COMMIT" >/dev/null
expect "after A's transaction ends, A predicts with v2" "$(s A "$PRED")" -2

session_stop A
echo "cache invalidation ok"

#!/usr/bin/env bash
# Registry changes racing each other in two sessions: concurrent trains of one project get
# distinct versions, also when the project does not exist yet; a deploy racing a drop_model
# of the same version never leaves the project serving a dropped model.
#
# Session A makes its change in a transaction that stays open for a moment (psql -c BEGIN
# -c ... -c "SELECT pg_sleep(..)" -c COMMIT, in the background); session B makes the other
# change meanwhile.  Every scenario runs; the test fails at the end if any failed.
set -euo pipefail

q() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
FAILED=0
A_PID=""
cleanup() {
	if [ -n "$A_PID" ]; then
		kill "$A_PID" 2>/dev/null || true
		wait "$A_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT

check() { # check WHAT GOT WANT
	if [ "$2" = "$3" ]; then
		echo "ok: $1"
	else
		echo "FAIL: $1: got '$2', expected '$3'"
		FAILED=$((FAILED + 1))
	fi
}

# a_begin SQL: session A runs SQL in a transaction that stays open until a_commit
A_HOLD=1.5
a_begin() {
	PGAPPNAME=aif_session_a psql -X -At -v ON_ERROR_STOP=1 -c "BEGIN" -c "$1" \
		-c "SELECT pg_sleep($A_HOLD)" -c "COMMIT" >a.out 2>&1 &
	A_PID=$!
	for _ in $(seq 200); do
		if [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'aif_session_a'
		           AND query LIKE 'SELECT pg_sleep%' AND state = 'active'")" = 1 ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "session A never reached its pause; its output:"
	cat a.out
	exit 1
}
# a_commit: wait for session A (not in a subshell: A is our child); its output is in a.out
a_commit() {
	wait "$A_PID" || true
	A_PID=""
}
# b SQL: session B, output and errors (with SQLSTATE) on stdout
b() {
	psql -X -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$1" 2>&1 | grep -v '^LOCATION:' || true
}

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT setseed(0.71);
CREATE TABLE d AS SELECT i AS id, random() AS x1, random() AS x2 FROM generate_series(1, 200) i;
ALTER TABLE d ADD COLUMN y double precision;
UPDATE d SET y = 1 + 2 * x1 - 3 * x2 + 0.1 * random();
SQL
q "SELECT version FROM aifactory.train('p', 'SELECT x1, x2, y FROM d', 'y', seed => 1)" >/dev/null

# ---- 1. two trains of an existing project ----------------------------------------------------

a_begin "SELECT 'A got v' || version FROM aifactory.train('p', 'SELECT x1, x2, y FROM d', 'y', seed => 2, deploy => 'none')"
b_out=$(b "SELECT 'B got v' || version FROM aifactory.train('p', 'SELECT x1, x2, y FROM d', 'y', seed => 3, deploy => 'none')")
a_commit
a_out=$(cat a.out)
check "existing project: A's train" "$(grep -o 'A got v[0-9]*' <<<"$a_out" || echo "$a_out")" "A got v2"
check "existing project: B's train waited for A and got the next version" "$b_out" "B got v3"
check "existing project: versions 1, 2, 3 registered" \
	"$(q "SELECT array_agg(version ORDER BY version) FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id WHERE p.name = 'p'")" \
	"{1,2,3}"

# ---- 2. two first trains of a new project ---------------------------------------------------

a_begin "SELECT 'A got v' || version FROM aifactory.train('fresh', 'SELECT x1, x2, y FROM d', 'y', seed => 2)"
b_out=$(b "SELECT 'B got v' || version FROM aifactory.train('fresh', 'SELECT x1, x2, y FROM d', 'y', seed => 3)")
a_commit
a_out=$(cat a.out)
check "new project: A's train creates it" "$(grep -o 'A got v[0-9]*' <<<"$a_out" || echo "$a_out")" "A got v1"
check "new project: B's concurrent first train gets version 2 (not a unique violation)" "$b_out" "B got v2"
check "new project: one project row" "$(q "SELECT count(*) FROM aifactory.projects WHERE name = 'fresh'")" 1

# ---- 3. deploy v2 (A, open) racing drop_model v2 (B) ----------------------------------------

# serving_ok PROJECT: the deployed model is ready and predicts
serving_ok() {
	q "SELECT m.status FROM aifactory.overview o JOIN aifactory.projects p ON p.name = o.project
	   JOIN aifactory.models m ON m.project_id = p.id AND m.version = o.deployed_version
	   WHERE o.project = '$1'" 2>&1
	psql -X -At -c "SELECT aifactory.predict('$1', ARRAY[0.5, 0.5]::float8[]) IS NOT NULL" 2>&1 || true
}

q "SELECT version FROM aifactory.train('dd', 'SELECT x1, x2, y FROM d', 'y', seed => 1)" >/dev/null
q "SELECT version FROM aifactory.train('dd', 'SELECT x1, x2, y FROM d', 'y', seed => 2, deploy => 'none')" >/dev/null
a_begin "SELECT 'A deployed v' || version FROM aifactory.deploy('dd', 2)"
b_out=$(b "SELECT aifactory.drop_model('dd', 2)")
a_commit
a_out=$(cat a.out)
echo "   (A: $(tr '\n' ' ' <<<"$a_out"); B: $(tr '\n' ' ' <<<"$b_out"))"
check "deploy racing drop_model: the project serves a ready model that predicts" \
	"$(serving_ok dd | tr '\n' ' ')" "ready t "

# ---- 4. drop_model v2 (A, open) racing deploy v2 (B) ----------------------------------------

q "SELECT version FROM aifactory.train('ee', 'SELECT x1, x2, y FROM d', 'y', seed => 1)" >/dev/null
q "SELECT version FROM aifactory.train('ee', 'SELECT x1, x2, y FROM d', 'y', seed => 2, deploy => 'none')" >/dev/null
a_begin "SELECT aifactory.drop_model('ee', 2)"
b_out=$(b "SELECT 'B deployed v' || version FROM aifactory.deploy('ee', 2)")
a_commit
a_out=$(cat a.out)
echo "   (A: $(tr '\n' ' ' <<<"$a_out"); B: $(tr '\n' ' ' <<<"$b_out"))"
check "drop_model racing deploy: the project serves a ready model that predicts" \
	"$(serving_ok ee | tr '\n' ' ')" "ready t "

if [ "$FAILED" -gt 0 ]; then
	echo "$FAILED check(s) failed"
	exit 1
fi
echo "concurrent registry changes ok"

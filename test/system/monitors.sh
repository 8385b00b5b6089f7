#!/usr/bin/env bash
# run_monitors() alerts other sessions: a session that LISTENs on aifactory_alerts receives
# one notification, naming the project and the drifted features, when a round finds drift
# and commits; none when nothing drifted, and none when the round's transaction rolls back.
# A drifted 'retrain' monitor's round submits a job that, once the round commits, trains a
# challenger, deploys it when it wins and records the decision in the report.
# The listener is a psql that LISTENs, echoes a marker, then sleeps: psql prints the
# notifications that arrived during a command when the command ends.
set -euo pipefail

q() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
fail() {
	echo "FAIL: $*"
	exit 1
}

# listen FILE SECONDS: a background listener writing to FILE; returns once it listens
LISTENER=""
listen() {
	local file=$1 i
	rm -f "$file"
	psql -X -At -v ON_ERROR_STOP=1 >"$file" 2>&1 <<-SQL &
		LISTEN aifactory_alerts;
		\echo listening
		SELECT pg_sleep($2);
		SELECT 'done';
	SQL
	LISTENER=$!
	for i in $(seq 1 100); do
		grep -q '^listening$' "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "the listener did not start: $(cat "$file")"
}

# the listener has ended; its output is complete
listen_end() {
	wait "$LISTENER" || fail "the listener failed: $(cat "$1")"
	grep -q '^done$' "$1" || fail "the listener did not finish: $(cat "$1")"
}

q "SELECT setseed(0.42);
   CREATE TABLE base AS SELECT i AS id, 10 * random() AS x1, 10 * random() AS x2, 0::float8 AS y
                        FROM generate_series(1, 2000) i;
   UPDATE base SET y = x1 + 2 * x2 + random();
   CREATE TABLE fresh AS SELECT i AS id, 10 * random() AS x1, 10 * random() AS x2
                         FROM generate_series(1, 500) i;
   CREATE TABLE shifted AS SELECT id, x1 + 5 AS x1, x2 + 5 AS x2 FROM fresh;" >/dev/null
q "SELECT aifactory.train('drifty', 'base', 'y', 'linear', '{}', ARRAY['x1', 'x2'], seed => 1)" >/dev/null

# ---- nothing drifted: a report, no notification ---------------------------------------------
q "SELECT aifactory.create_monitor('drifty', 'fresh', '1 hour')" >/dev/null
listen quiet.out 3
out=$(q "SELECT drifted, action FROM aifactory.run_monitors()")
[ "$out" = "f|none" ] || fail "the fresh data's round returned '$out', expected 'f|none'"
listen_end quiet.out
if grep -q 'Asynchronous notification' quiet.out; then
	fail "a notification without drift: $(cat quiet.out)"
fi

# ---- drift in a transaction rolled back: no notification, no report ------------------------
shifted=$(q "SELECT aifactory.create_monitor('drifty', 'shifted', '1 hour')")
listen rolledback.out 3
out=$(psql -X -At -v ON_ERROR_STOP=1 <<-SQL
	BEGIN;
	SELECT drifted, action FROM aifactory.run_monitors();
	ROLLBACK;
SQL
)
[ "$(printf '%s\n' "$out" | grep -c '^t|alert$')" = 1 ] || fail "the rolled back round returned '$out'"
listen_end rolledback.out
if grep -q 'Asynchronous notification' rolledback.out; then
	fail "a notification from a rolled back round: $(cat rolledback.out)"
fi
[ "$(q "SELECT count(*) FROM aifactory.drift_reports WHERE monitor_id = $shifted")" = 0 ] ||
	fail "a report survived the rollback"

# ---- drift committed: one notification with the report's facts -----------------------------
listen alert.out 3
out=$(q "SELECT drifted, action FROM aifactory.run_monitors()")
[ "$out" = "t|alert" ] || fail "the shifted data's round returned '$out', expected 't|alert'"
listen_end alert.out
[ "$(grep -c 'Asynchronous notification "aifactory_alerts"' alert.out)" = 1 ] ||
	fail "expected one notification: $(cat alert.out)"
report=$(q "SELECT id FROM aifactory.drift_reports WHERE monitor_id = $shifted")
for want in '"project": "drifty"' "\"monitor\": $shifted" "\"report\": $report" \
	'"drifted_features": \["x1", "x2"\]' '"share": 1'; do
	grep -q "$want" alert.out || fail "the notification lacks $want: $(cat alert.out)"
done

echo "ok: alerts reach listeners on commit, only on drift"

# ---- on_drift retrain: the round submits a job; the job promotes the challenger -------------
# the relationship changes (y = -3x + 5 on x in [10, 20)): the challenger must win
q "SELECT setseed(0.5);
   CREATE TABLE rbase AS SELECT i AS id, 10 * random() AS x, 0::float8 AS y FROM generate_series(1, 1000) i;
   UPDATE rbase SET y = 2 * x + random();
   CREATE TABLE rchanged AS SELECT i AS id, 10 + 10 * random() AS x, 0::float8 AS y FROM generate_series(1, 1000) i;
   UPDATE rchanged SET y = -3 * x + 5 + random();" >/dev/null
q "SELECT aifactory.train('rjob', 'rbase', 'y', 'linear', '{}', ARRAY['x'], seed => 1)" >/dev/null
rmon=$(q "SELECT aifactory.create_monitor('rjob', 'rchanged', '1 hour', 'retrain')")
out=$(q "SELECT drifted, action FROM aifactory.run_monitors() WHERE monitor_id = $rmon")
[ "$out" = "t|retrain" ] || fail "the retrain monitor's round returned '$out', expected 't|retrain'"
job=$(q "SELECT detail->>'job' FROM aifactory.drift_reports WHERE monitor_id = $rmon")
[ -n "$job" ] || fail "the report names no job: $(q "SELECT detail FROM aifactory.drift_reports WHERE monitor_id = $rmon")"
status=$(q "SELECT status FROM aifactory.wait($job, '2 minutes')")
[ "$status" = succeeded ] || fail "the retrain job $job ended $status: $(q "SELECT error FROM aifactory.jobs WHERE id = $job")"
out=$(q "SELECT kind, project, version FROM aifactory.jobs WHERE id = $job")
[ "$out" = "retrain|rjob|2" ] || fail "the retrain job reads '$out', expected 'retrain|rjob|2'"
out=$(q "SELECT (detail->>'promoted')::boolean, (detail->'challenger'->>'version')::int
         FROM aifactory.drift_reports WHERE monitor_id = $rmon")
[ "$out" = "t|2" ] || fail "the report's decision is '$out', expected 't|2'"
out=$(q "SELECT m.version FROM aifactory.deployments d JOIN aifactory.models m ON m.id = d.model_id
         JOIN aifactory.projects p ON p.id = m.project_id WHERE p.name = 'rjob' ORDER BY d.id DESC LIMIT 1")
[ "$out" = 2 ] || fail "deployed version '$out' after the retrain job, expected 2"
[ "$(q "SELECT count(*) FROM aifactory.audit_log WHERE action = 'monitor_retrain' AND project = 'rjob'")" = 1 ] ||
	fail "the decision is not audited once"

echo "ok: a drifted retrain monitor's job promotes the better challenger"

#!/usr/bin/env bash
# The scheduler worker (shared_preload_libraries) runs due monitors by itself: pointed at this
# test's database with aifactory.database and a naptime of 1 s, it writes drift_reports and a
# LISTENing session gets NOTIFY aifactory_alerts without anyone calling run_monitors(); and it
# shows in pg_stat_activity as backend_type 'aifactory scheduler'; a retrain monitor's round there
# submits a retraining job that runs and promotes.  Both settings are reset at
# the end, also on failure, and the worker leaves this database before the test ends.
set -euo pipefail

q() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
fail() {
	echo "FAIL: $*"
	exit 1
}
DB=$PGDATABASE
SCHEDULER_HERE="SELECT count(*) FROM pg_stat_activity
                WHERE backend_type = 'aifactory scheduler' AND datname = current_database()"

LISTENER=""
cleanup() {
	if [ -n "$LISTENER" ]; then
		kill "$LISTENER" 2>/dev/null || true
		wait "$LISTENER" 2>/dev/null || true
	fi
	psql -X -q -c "ALTER SYSTEM RESET aifactory.database" >/dev/null 2>&1 || true
	psql -X -q -c "ALTER SYSTEM RESET aifactory.monitor_naptime" >/dev/null 2>&1 || true
	psql -X -q -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	# the worker exits on the reload; wait until it has left this database
	for _ in $(seq 100); do
		[ "$(psql -X -At -c "$SCHEDULER_HERE" 2>/dev/null)" = 0 ] && break
		sleep 0.1
	done
}
trap cleanup EXIT

q "SELECT setseed(0.42);
   CREATE TABLE base AS SELECT i AS id, 10 * random() AS x1, 10 * random() AS x2, 0::float8 AS y
                        FROM generate_series(1, 2000) i;
   UPDATE base SET y = x1 + 2 * x2 + random();
   CREATE TABLE shifted AS SELECT i AS id, 10 * random() + 5 AS x1, 10 * random() + 5 AS x2
                           FROM generate_series(1, 500) i;" >/dev/null
q "SELECT aifactory.train('sched', 'base', 'y', 'linear', '{}', ARRAY['x1', 'x2'], seed => 1)" >/dev/null

# ---- point the scheduler here: it restarts, connected to this database ----------------------
q "ALTER SYSTEM SET aifactory.database = '$DB'" >/dev/null
q "ALTER SYSTEM SET aifactory.monitor_naptime = 1" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 200); do
	[ "$(q "$SCHEDULER_HERE")" = 1 ] && break
	sleep 0.1
done
[ "$(q "$SCHEDULER_HERE")" = 1 ] ||
	fail "no 'aifactory scheduler' in pg_stat_activity for $DB after 20 s: $(q "SELECT string_agg(format('%s/%s', backend_type, datname), ', ') FROM pg_stat_activity")"

# ---- a monitor over drifted data: the worker's rounds alert a listener ----------------------
rm -f alert.out
psql -X -At -v ON_ERROR_STOP=1 >alert.out 2>&1 <<-SQL &
	LISTEN aifactory_alerts;
	\echo listening
	SELECT pg_sleep(8);
	SELECT 'done';
SQL
LISTENER=$!
for _ in $(seq 100); do
	grep -q '^listening$' alert.out 2>/dev/null && break
	sleep 0.1
done
grep -q '^listening$' alert.out || fail "the listener did not start: $(cat alert.out)"

monitor=$(q "SELECT aifactory.create_monitor('sched', 'shifted', '1 second')")
wait "$LISTENER" || fail "the listener failed: $(cat alert.out)"
LISTENER=""
grep -q '^done$' alert.out || fail "the listener did not finish: $(cat alert.out)"

grep -q 'Asynchronous notification "aifactory_alerts"' alert.out ||
	fail "no alert within 8 s of creating the monitor: $(cat alert.out)"
for want in '"project": "sched"' "\"monitor\": $monitor"; do
	grep -q "$want" alert.out || fail "the notification lacks $want: $(cat alert.out)"
done

# nobody here called run_monitors(): every report is a scheduler round, one every second or so
reports=$(q "SELECT count(*) FROM aifactory.drift_reports
             WHERE monitor_id = $monitor AND drifted AND action = 'alert'")
[ "$reports" -ge 2 ] || fail "expected at least 2 drift reports from the scheduler, got $reports"

echo "ok: the scheduler ran the monitor ($reports rounds), alerting listeners"

# ---- a retrain monitor: the scheduler's round submits the job, which promotes ----------------
q "SELECT setseed(0.5);
   CREATE TABLE rbase AS SELECT i AS id, 10 * random() AS x, 0::float8 AS y FROM generate_series(1, 1000) i;
   UPDATE rbase SET y = 2 * x + random();
   CREATE TABLE rchanged AS SELECT i AS id, 10 + 10 * random() AS x, 0::float8 AS y FROM generate_series(1, 1000) i;
   UPDATE rchanged SET y = -3 * x + 5 + random();" >/dev/null
q "SELECT aifactory.train('sched_rt', 'rbase', 'y', 'linear', '{}', ARRAY['x'], seed => 1)" >/dev/null
rmon=$(q "SELECT aifactory.create_monitor('sched_rt', 'rchanged', '1 hour', 'retrain')")
job=""
for _ in $(seq 150); do
	job=$(q "SELECT detail->>'job' FROM aifactory.drift_reports WHERE monitor_id = $rmon")
	[ -n "$job" ] && break
	sleep 0.2
done
[ -n "$job" ] || fail "no retrain job from the scheduler within 30 s: $(q "SELECT detail FROM aifactory.drift_reports WHERE monitor_id = $rmon")"
status=$(q "SELECT status FROM aifactory.wait($job, '2 minutes')")
[ "$status" = succeeded ] || fail "the scheduler's retrain job $job ended $status: $(q "SELECT error FROM aifactory.jobs WHERE id = $job")"
out=$(q "SELECT (detail->>'promoted')::boolean FROM aifactory.drift_reports WHERE monitor_id = $rmon")
[ "$out" = t ] || fail "the scheduler's retraining did not promote: $(q "SELECT detail FROM aifactory.drift_reports WHERE monitor_id = $rmon")"

echo "ok: a scheduler round submitted a retrain job, which promoted the challenger"

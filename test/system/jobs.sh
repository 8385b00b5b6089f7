#!/usr/bin/env bash
# Background jobs (train_async, wait, cancel, the jobs view):
#   - a job runs after its submitting transaction commits and registers its model (train_async
#     and tune_async); a
#     rolled-back submission leaves no job and its worker exits; wait() in the submitting
#     transaction is refused; a job cancelled there never runs;
#   - cancel() stops a running job within BOUND seconds (the measured latency is printed):
#     status cancelled, nothing registered;
#   - a job runs as the submitting role (one that may log in, and a NOLOGIN one reached by
#     SET ROLE): a source it may not read fails the job with 42501; another role may not
#     cancel it;
#   - aifactory.max_workers = 1 keeps a second job queued until the first ends;
#   - pg_terminate_backend of a worker leaves its job failed; kill -9 of a worker (the
#     postmaster then restarts every process) leaves its job failed, wait() records that,
#     and the registry holds nothing of it;
#   - no free max_worker_processes slot: a clean 53000 error, no job left behind;
#   - without shared_preload_libraries, jobs still run.
# ~30 s.
set -euo pipefail

BOUND=${AIF_JOB_CANCEL_BOUND:-2} # seconds from cancel() to the job reading cancelled

q() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
fail() {
	echo "FAIL: $*"
	exit 1
}
LOGIN=aif_job_login_$$
NOLOGIN=aif_job_nologin_$$
REGISTRY="SELECT format('projects=%s models=%s deployments=%s audit_log=%s',
                        (SELECT count(*) FROM aifactory.projects), (SELECT count(*) FROM aifactory.models),
                        (SELECT count(*) FROM aifactory.deployments), (SELECT count(*) FROM aifactory.audit_log))"
LONG="'km', NULL, 'kmeans', '{\"n_clusters\": 50, \"n_init\": 50, \"max_iter\": 1000, \"tol\": 0}', seed => 1"

cleanup() {
	if ! psql -X -At -c "SHOW shared_preload_libraries" 2>/dev/null | grep -qw aifactory; then
		psql -X -q -d postgres -c "ALTER SYSTEM RESET shared_preload_libraries" >/dev/null 2>&1 || true
		# shellcheck disable=SC2086  # a command prefix, split on purpose
		$AIF_AS_SERVER "$AIF_PGBIN/pg_ctl" -D "$AIF_PGDATA" -w -t 120 -m fast restart >/dev/null 2>&1 || true
	fi
	psql -X -q -c "SELECT aifactory.cancel(id) FROM aifactory.jobs WHERE status IN ('queued', 'running')" >/dev/null 2>&1 || true
	psql -X -q -c "DROP OWNED BY $LOGIN, $NOLOGIN" >/dev/null 2>&1 || true
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $LOGIN, $NOLOGIN" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# until_status JOB STATUS: wait up to 30 s until the jobs view shows the job in STATUS
until_status() {
	for _ in $(seq 300); do
		[ "$(q "SELECT status FROM aifactory.jobs WHERE id = $1")" = "$2" ] && return 0
		sleep 0.1
	done
	fail "job $1 is not $2 after 30 s: $(q "SELECT row_to_json(j) FROM aifactory.jobs j WHERE id = $1")"
}

# no_job_workers: wait up to 10 s until no job worker runs
no_job_workers() {
	for _ in $(seq 100); do
		[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'aifactory job'")" = 0 ] && return 0
		sleep 0.1
	done
	fail "job workers still run after 10 s: $(q "SELECT string_agg(pid || ' ' || query, '; ') FROM pg_stat_activity WHERE backend_type = 'aifactory job'")"
}

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT setseed(0.25);
CREATE TABLE small AS SELECT i, random() AS x1, random() AS x2 FROM generate_series(1, 2000) i;
ALTER TABLE small ADD COLUMN y double precision;
UPDATE small SET y = 1 + 2 * x1 - x2 + 0.01 * random();
CREATE TABLE secret AS SELECT * FROM small;
CREATE TABLE km AS
SELECT random() AS a1, random() AS a2, random() AS a3, random() AS a4, random() AS a5,
       random() AS a6, random() AS a7, random() AS a8, random() AS a9, random() AS a10
FROM generate_series(1, 100000);
VACUUM ANALYZE small, secret, km;
CREATE ROLE $LOGIN LOGIN;
CREATE ROLE $NOLOGIN NOLOGIN;
GRANT SELECT ON small, km TO $LOGIN, $NOLOGIN;
SQL

# ---- submit, wait, succeeded --------------------------------------------------------------

job=$(q "SELECT aifactory.train_async('j_ok', 'small', 'y', 'linear', features => ARRAY['x1', 'x2'], seed => 1)")
got=$(q "SELECT concat_ws(' ', status, progress, phase, project, version, error) FROM aifactory.wait($job, '60 s')")
[ "$got" = "succeeded 1 done j_ok 1" ] || fail "job $job: '$got', expected 'succeeded 1 done j_ok 1'"
[ "$(q "SELECT status FROM aifactory.job_runs WHERE id = $job")" = succeeded ] || fail "job_runs does not say succeeded"
[ "$(q "SELECT count(*) FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
        WHERE p.name = 'j_ok' AND m.version = 1 AND m.created_by = 'postgres'")" = 1 ] ||
	fail "job $job registered no model j_ok v1"
echo "ok: job $job ran train() and registered j_ok v1"

job=$(q "SELECT aifactory.tune_async('j_tune', 'small', 'y', 'ridge', '{\"alpha\": [0.01, 0.1, 1]}', 'grid', folds => 3, seed => 1)")
got=$(q "SELECT concat_ws(' ', kind, status, project, version, error) FROM aifactory.wait($job, '60 s')")
[ "$got" = "tune succeeded j_tune 1" ] || fail "tune job $job: '$got', expected 'tune succeeded j_tune 1'"
[ "$(q "SELECT count(*) FROM aifactory.trials WHERE project = 'j_tune' AND state = 'complete'")" = 3 ] ||
	fail "tune job $job did not record its 3 trials"
echo "ok: job $job ran tune() and registered j_tune v1"

# a rolled-back submission: no row, and its worker goes away
job=$(psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SELECT aifactory.train_async('j_rollback', 'small', 'y', 'linear');
ROLLBACK;
SQL
)
no_job_workers
[ "$(q "SELECT count(*) FROM aifactory.job_runs WHERE id = $job")" = 0 ] || fail "the rolled-back job $job has a row"
[ "$(q "SELECT count(*) FROM aifactory.projects WHERE name = 'j_rollback'")" = 0 ] || fail "the rolled-back job ran"
echo "ok: a rolled-back submission leaves no job and its worker exits"

# wait() in the submitting transaction is refused; cancel() there stops the job before it starts
out=$(psql -X -q -At -v ON_ERROR_STOP=0 2>&1 <<'SQL'
BEGIN;
SELECT aifactory.train_async('j_same', 'small', 'y', 'linear') AS job \gset
SELECT status FROM aifactory.wait(:job);
\echo SQLSTATE :SQLSTATE
ROLLBACK;
BEGIN;
SELECT aifactory.train_async('j_same', 'small', 'y', 'linear') AS job \gset
SELECT aifactory.cancel(:job);
COMMIT;
\echo JOB :job
SQL
)
grep -q 'SQLSTATE 55000' <<<"$out" || fail "wait() in the submitting transaction: $out"
grep -q 'it was submitted in the current transaction' <<<"$out" || fail "wait() in the submitting transaction: $out"
job=$(sed -n 's/^JOB //p' <<<"$out")
no_job_workers
[ "$(q "SELECT status || ' ' || sqlstate FROM aifactory.jobs WHERE id = $job")" = "cancelled 57014" ] ||
	fail "job $job cancelled in its transaction: $(q "SELECT row_to_json(j) FROM aifactory.jobs j WHERE id = $job")"
[ "$(q "SELECT count(*) FROM aifactory.projects WHERE name = 'j_same'")" = 0 ] || fail "the cancelled job ran"
echo "ok: wait() in the submitting transaction is refused (55000); a job cancelled there never runs"

# ---- cancel a running job -----------------------------------------------------------------

before=$(q "$REGISTRY")
job=$(q "SELECT aifactory.train_async('j_cancel', $LONG)")
until_status "$job" running
got=$(q "SELECT phase || ' ' || progress FROM aifactory.jobs WHERE id = $job")
# the worker reports starting, then train() its own phases: reading, fitting, registering
case $got in
"starting 0" | "reading the source 0" | "fitting 0.3") ;;
*) fail "a running job's phase and progress: '$got', expected starting, reading the source or fitting" ;;
esac
# another role sees the same live phase, and may not cancel
got=$(psql -X -At -U "$LOGIN" -c "SELECT status || ' ' || phase FROM aifactory.jobs WHERE id = $job")
case $got in
"running starting" | "running reading the source" | "running fitting") ;;
*) fail "$LOGIN sees job $job as '$got'" ;;
esac
out=$(psql -X -At -U "$LOGIN" -c "SELECT aifactory.cancel($job)" 2>&1 || true)
grep -q 'permission denied to cancel job' <<<"$out" || fail "$LOGIN could cancel job $job: $out"
sleep 1.5 # into k-means' iterations
[ "$(q "SELECT aifactory.cancel($job)")" = t ] || fail "cancel($job) did not return true"
got=$(q "SELECT concat_ws(' ', status, sqlstate, error) FROM aifactory.jobs WHERE id = $job")
[ "$got" = "cancelled 57014 canceling statement due to user request" ] || fail "job $job after cancel(): '$got'"
[ "$(q "SELECT aifactory.cancel($job)")" = f ] || fail "a second cancel($job) did not return false"
no_job_workers
[ "$(q "$REGISTRY")" = "$before" ] || fail "the cancelled job changed the registry: $(q "$REGISTRY") (before: $before)"
echo "ok: cancel() stopped running job $job: $got; nothing registered"

# cancel latency measured from the outside: from just before cancel() to the row saying cancelled
job=$(q "SELECT aifactory.train_async('j_cancel', $LONG)")
until_status "$job" running
sleep 1.5
t0=$(q "SELECT extract(epoch FROM clock_timestamp())")
q "SELECT aifactory.cancel($job)" >/dev/null
t1=$(q "SELECT extract(epoch FROM finished) FROM aifactory.jobs WHERE id = $job AND status = 'cancelled'")
[ -n "$t1" ] || fail "job $job is not cancelled when cancel() returns"
latency=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
awk -v l="$latency" -v b="$BOUND" 'BEGIN { exit !(l <= b) }' ||
	fail "job $job was cancelled ${latency} s after cancel(), more than $BOUND s"
no_job_workers
echo "ok: job $job cancelled ${latency} s after cancel() was called"

# ---- the submitting role ------------------------------------------------------------------

job=$(psql -X -At -v ON_ERROR_STOP=1 -U "$LOGIN" -c "SELECT aifactory.train_async('j_secret', 'secret', 'y', 'linear')")
got=$(q "SELECT concat_ws(' ', status, sqlstate, submitted_by, error) FROM aifactory.wait($job, '60 s')")
[[ "$got" == "failed 42501 $LOGIN permission denied for table secret"* ]] || fail "job of $LOGIN on secret: '$got'"
job=$(psql -X -At -v ON_ERROR_STOP=1 -q -c "SET ROLE $NOLOGIN" -c "SELECT aifactory.train_async('j_nologin', 'secret', 'y', 'linear')" | tail -n 1)
got=$(q "SELECT concat_ws(' ', status, sqlstate, submitted_by) FROM aifactory.wait($job, '60 s')")
[ "$got" = "failed 42501 $NOLOGIN" ] || fail "job of $NOLOGIN on secret: '$got'"
job=$(psql -X -At -v ON_ERROR_STOP=1 -q -c "SET ROLE $NOLOGIN" -c "SELECT aifactory.train_async('j_nologin', 'small', 'y', 'linear')" | tail -n 1)
got=$(q "SELECT concat_ws(' ', status, version) FROM aifactory.wait($job, '60 s')")
[ "$got" = "succeeded 1" ] || fail "job of $NOLOGIN on small: '$got'"
[ "$(q "SELECT owner FROM aifactory.projects WHERE name = 'j_nologin'")" = "$NOLOGIN" ] ||
	fail "j_nologin is not owned by $NOLOGIN"
echo "ok: jobs run as the submitting role (LOGIN or not): 42501 on an unreadable source, the project owned by the role"

# ---- aifactory.max_workers ----------------------------------------------------------------

q "ALTER DATABASE \"$PGDATABASE\" SET aifactory.max_workers = 1" >/dev/null
a=$(q "SELECT aifactory.train_async('j_queue_a', $LONG)")
until_status "$a" running
b=$(q "SELECT aifactory.train_async('j_queue_b', 'small', 'y', 'linear')")
sleep 1
got=$(q "SELECT status || ': ' || phase FROM aifactory.jobs WHERE id = $b")
[ "$got" = "queued: waiting for a job slot (aifactory.max_workers = 1)" ] ||
	fail "with max_workers 1, the second job is '$got'"
q "SELECT aifactory.cancel($a)" >/dev/null
got=$(q "SELECT status FROM aifactory.wait($b, '60 s')")
[ "$got" = succeeded ] || fail "the queued job $b ended $got after the first was cancelled"
q "ALTER DATABASE \"$PGDATABASE\" RESET aifactory.max_workers" >/dev/null
echo "ok: with aifactory.max_workers = 1 a second job waits, queued, and runs once the first ends"

# ---- a worker that is terminated, or killed ------------------------------------------------

before=$(q "$REGISTRY")
job=$(q "SELECT aifactory.train_async('j_term', $LONG)")
until_status "$job" running
q "SELECT pg_terminate_backend(pid) FROM aifactory.jobs WHERE id = $job" >/dev/null
got=$(q "SELECT concat_ws(' ', status, sqlstate, error) FROM aifactory.wait($job, '30 s')")
[[ "$got" == "failed 57P01 terminating background worker"* ]] || fail "terminated job $job: '$got'"
echo "ok: pg_terminate_backend of the worker leaves job $job failed: $got"

job=$(q "SELECT aifactory.train_async('j_kill', $LONG)")
until_status "$job" running
pid=$(q "SELECT pid FROM aifactory.jobs WHERE id = $job")
# the test cluster runs with synchronous_commit = off: flush the job's committed rows to
# disk first, or the crash may take their latest versions along
q "CHECKPOINT" >/dev/null
# shellcheck disable=SC2086  # a command prefix, split on purpose
$AIF_AS_SERVER kill -9 "$pid"
sleep 1
"$AIF_PGBIN/pg_isready" -q -t 60 || fail "the server did not come back after kill -9"
for _ in $(seq 100); do
	q "SELECT 1" >/dev/null 2>&1 && break
	sleep 0.2
done
got=$(q "SELECT status || ': ' || error FROM aifactory.jobs WHERE id = $job")
[[ "$got" == "failed: the job's worker (pid $pid) ended without recording an outcome"* ]] ||
	fail "job $job after kill -9 of its worker: '$got'"
[ "$(q "SELECT status FROM aifactory.job_runs WHERE id = $job")" = running ] ||
	fail "the row of job $job changed before anyone looked"
got=$(q "SELECT status FROM aifactory.wait($job)")
[ "$got" = failed ] || fail "wait($job) after kill -9: $got"
[ "$(q "SELECT status FROM aifactory.job_runs WHERE id = $job")" = failed ] || fail "wait() did not record the verdict"
[ "$(q "$REGISTRY")" = "$before" ] || fail "the registry changed: $(q "$REGISTRY") (before: $before)"
echo "ok: after kill -9 of its worker and the restart, job $job reads failed ($got), wait() records it, registry unchanged"

# ---- no free background worker slot --------------------------------------------------------

out=$(psql -X -q -At -v ON_ERROR_STOP=0 2>&1 <<'SQL'
SELECT count(aifactory.train_async('j_many', 'small', 'y', 'linear')) FROM generate_series(1, 40);
\echo SQLSTATE :SQLSTATE
SQL
)
grep -q 'SQLSTATE 53000' <<<"$out" || fail "40 jobs at once: $out"
grep -q 'max_worker_processes' <<<"$out" || fail "the error does not name max_worker_processes: $out"
echo "ok: 40 jobs at once: $(grep ERROR <<<"$out")"
no_job_workers
[ "$(q "SELECT count(*) FROM aifactory.jobs WHERE args->>'project' = 'j_many'")" = 0 ] || fail "jobs of the failed submission remain"
job=$(q "SELECT aifactory.train_async('j_after', 'small', 'y', 'linear')")
[ "$(q "SELECT status FROM aifactory.wait($job, '60 s')")" = succeeded ] || fail "a job after the exhaustion did not run"
echo "ok: no job is left behind, and the next job runs"

# ---- without shared_preload_libraries ------------------------------------------------------

# (plpgsql: any library but aifactory; an empty list cannot be written with ALTER SYSTEM)
q "ALTER SYSTEM SET shared_preload_libraries = 'plpgsql'" >/dev/null
# shellcheck disable=SC2086
$AIF_AS_SERVER "$AIF_PGBIN/pg_ctl" -D "$AIF_PGDATA" -w -t 120 -m fast restart >/dev/null
"$AIF_PGBIN/pg_isready" -q -t 60
[ "$(q "SHOW shared_preload_libraries")" = plpgsql ] || fail "aifactory is still preloaded"
job=$(q "SELECT aifactory.train_async('j_nopreload', 'small', 'y', 'linear')")
got=$(q "SELECT status FROM aifactory.wait($job, '60 s')")
q "ALTER SYSTEM RESET shared_preload_libraries" >/dev/null
# shellcheck disable=SC2086
$AIF_AS_SERVER "$AIF_PGBIN/pg_ctl" -D "$AIF_PGDATA" -w -t 120 -m fast restart >/dev/null
"$AIF_PGBIN/pg_isready" -q -t 60
[ "$got" = succeeded ] || fail "without shared_preload_libraries the job ended $got"
q "SHOW shared_preload_libraries" | grep -qw aifactory || fail "aifactory is not preloaded again"
echo "ok: without shared_preload_libraries job $job succeeded"

echo "jobs ok"

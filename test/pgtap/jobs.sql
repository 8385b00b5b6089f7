-- Background jobs, what one transaction can show: train_async() and
-- tune_async() record a queued job with its arguments and the caller's
-- settings; wait() refuses a job of its own transaction; cancel() checks
-- the caller and stops a job before it starts; nobody writes job_runs
-- directly; a queued or running job whose worker is gone reads failed, and
-- wait() records that.  Running jobs, cancelling running ones, crashes and
-- worker exhaustion are in test/system/jobs.sh.
--
-- Everything runs in one transaction that is rolled back, so no job ever
-- starts: each worker waits for this transaction and then finds no row.

SET client_min_messages = warning;
BEGIN;
SELECT plan(40);

CREATE ROLE aif_tap_job_other;
CREATE TABLE job_data AS SELECT i AS id, i * 0.5 AS x, i * 2.0 + 1 AS y FROM generate_series(1, 50) i;

-- ---- objects -------------------------------------------------------------

SELECT has_function('aifactory', 'train_async',
                    ARRAY['text', 'text', 'text', 'text', 'jsonb', 'text[]', 'double precision', 'integer', 'text'],
                    'train_async has train''s arguments');
SELECT function_returns('aifactory', 'train_async',
                        ARRAY['text', 'text', 'text', 'text', 'jsonb', 'text[]', 'double precision', 'integer', 'text'],
                        'bigint', 'train_async returns the job id');
SELECT has_function('aifactory', 'tune_async', 'tune_async exists');
SELECT has_function('aifactory', 'wait', ARRAY['bigint', 'interval'], 'wait(job, timeout)');
SELECT function_returns('aifactory', 'wait', ARRAY['bigint', 'interval'], 'aifactory.jobs', 'wait returns a jobs row');
SELECT has_function('aifactory', 'cancel', ARRAY['bigint'], 'cancel(job)');
SELECT function_returns('aifactory', 'cancel', ARRAY['bigint'], 'boolean', 'cancel returns boolean');
SELECT columns_are('aifactory', 'jobs',
                   ARRAY['id', 'kind', 'status', 'progress', 'phase', 'submitted_by', 'submitted', 'started',
                         'finished', 'error', 'sqlstate', 'project', 'version', 'args', 'pid'],
                   'the jobs view''s columns');
SELECT ok((SELECT 'aifactory.job_runs'::regclass = ANY (extconfig) FROM pg_extension WHERE extname = 'aifactory'),
          'job_runs is an extension configuration table (pg_dump keeps it)');
SELECT is(current_setting('aifactory.max_workers'), '2', 'aifactory.max_workers defaults to 2');

-- ---- a submitted job -----------------------------------------------------

SET LOCAL search_path = public, pg_temp;
SELECT aifactory.train_async('tap_job', 'job_data', 'y', 'linear', features => ARRAY['x'], seed => 7) AS job \gset

SELECT is((SELECT concat_ws(' ', kind, status, progress, submitted_by = current_user::regrole, started IS NULL,
                            finished IS NULL, error IS NULL, version IS NULL)
            FROM aifactory.jobs WHERE id = :job),
          'train queued 0 t t t t t',
          'the job is queued, submitted by the caller');
SELECT is((SELECT phase FROM aifactory.jobs WHERE id = :job), 'waiting for the submitting transaction to end',
          'its worker says it waits for this transaction');
SELECT isnt((SELECT pid FROM aifactory.jobs WHERE id = :job), NULL, 'its worker''s pid is recorded');
SELECT is((SELECT backend_type FROM pg_stat_activity WHERE pid = (SELECT pid FROM aifactory.jobs WHERE id = :job)),
          'aifactory job', 'the worker is a live aifactory job process');
SELECT is((SELECT args FROM aifactory.jobs WHERE id = :job),
          '{"project": "tap_job", "source": "job_data", "target": "y", "algorithm": "linear",
            "hyperparams": {}, "features": ["x"], "test_size": 0.25, "seed": 7, "deploy": "best"}'::jsonb,
          'args hold every argument of train(), defaults included');
SELECT is((SELECT settings->>'search_path' FROM aifactory.job_runs WHERE id = :job), 'public, pg_temp',
          'the caller''s search_path is recorded for the worker');
SELECT is((SELECT settings ? 'aifactory.train_memory' FROM aifactory.job_runs WHERE id = :job), true,
          'so is aifactory.train_memory');

SELECT aifactory.tune_async('tap_tune', 'job_data', 'y', 'ridge', '{"alpha": [0.1, 1]}') AS tune_job \gset
SELECT is((SELECT kind || ' ' || status FROM aifactory.jobs WHERE id = :tune_job), 'tune queued', 'tune_async queues a tune job');
SELECT is((SELECT args - 'search_space' FROM aifactory.jobs WHERE id = :tune_job),
          '{"project": "tap_tune", "source": "job_data", "target": "y", "algorithm": "ridge",
            "strategy": "random", "trials": 20, "folds": 5, "metric": null, "workers": null,
            "test_size": 0.25, "seed": null, "deploy": "best", "hyperparams": {}}'::jsonb,
          'its args hold tune''s arguments and defaults');

-- ---- wait ------------------------------------------------------------------

SELECT throws_ok(format('SELECT aifactory.wait(%s)', :job), '55000',
                 format('cannot wait for job %s: it was submitted in the current transaction', :job),
                 'wait() for a job of the current transaction would never end: refused');
SELECT throws_ok(format('SELECT aifactory.wait(%s, ''1 s'')', :job), '55000', NULL,
                 'also with a timeout');
SELECT throws_ok('SELECT aifactory.wait(987654321)', '42704', 'job 987654321 does not exist',
                 'wait() for an unknown job');
SELECT throws_ok('SELECT aifactory.wait(NULL)', '22004', 'job must not be NULL', 'wait(NULL)');

-- ---- cancel ----------------------------------------------------------------

SELECT throws_ok('SELECT aifactory.cancel(987654321)', '42704', 'job 987654321 does not exist',
                 'cancel() of an unknown job');
SET LOCAL ROLE aif_tap_job_other;
SELECT is((SELECT status FROM aifactory.jobs WHERE id = :job), 'queued', 'another role reads the jobs view');
SELECT throws_ok(format('SELECT aifactory.cancel(%s)', :job), '42501',
                 format('permission denied to cancel job %s', :job), 'another role may not cancel the job');
SELECT throws_ok('INSERT INTO aifactory.job_runs (kind, submitted_by, args) VALUES (''train'', current_user::regrole, ''{}'')',
                 '42501', NULL, 'nobody inserts into job_runs directly');
SELECT throws_ok(format('UPDATE aifactory.job_runs SET status = ''succeeded'' WHERE id = %s', :job),
                 '42501', NULL, 'nobody updates job_runs directly');
RESET ROLE;
SET LOCAL search_path = public, pg_temp;

SELECT is(aifactory.cancel(:job), true, 'the submitter cancels its queued job');
SELECT results_eq(format($$SELECT status, sqlstate, error, finished IS NOT NULL FROM aifactory.jobs WHERE id = %s$$, :job),
                  $$VALUES ('cancelled'::text, '57014'::text, 'cancelled before it started'::text, true)$$,
                  'it reads cancelled before it started');
SELECT is(aifactory.cancel(:job), false, 'a second cancel() says it had already ended');
SELECT is((aifactory.wait(:job)).status, 'cancelled', 'wait() returns an ended job at once');
SELECT is((SELECT count(*) FROM aifactory.projects WHERE name = 'tap_job'), 0::bigint, 'nothing was trained');

-- ---- a job whose worker is gone ----------------------------------------------

-- as if the server had crashed while the job ran: a running row whose worker does not exist
INSERT INTO aifactory.job_runs (kind, status, submitted_by, args, started, worker_pid, worker_started)
VALUES ('train', 'running', current_user::regrole, '{"project": "ghost"}', now(), 2147483000, now() - interval '1 hour')
RETURNING id AS ghost \gset
SELECT results_eq(format($$SELECT status, error FROM aifactory.jobs WHERE id = %s$$, :ghost),
                  $$VALUES ('failed'::text, 'the job''s worker (pid 2147483000) ended without recording an outcome: the server restarted, or the worker process was killed'::text)$$,
                  'the view reads a running job without a live worker as failed');
SELECT is((SELECT status FROM aifactory.job_runs WHERE id = :ghost), 'running', 'reading the view writes nothing');
SELECT is((aifactory.wait(:ghost)).status, 'failed', 'wait() returns it at once as failed');
SELECT results_eq(format($$SELECT status, finished IS NOT NULL FROM aifactory.job_runs WHERE id = %s$$, :ghost),
                  $$VALUES ('failed'::text, true)$$, 'and records the verdict in job_runs');
SELECT is(aifactory.cancel(:ghost), false, 'cancel() of a failed job says it had ended');

-- a running row whose pid is a live backend, but not the process recorded (another start time)
INSERT INTO aifactory.job_runs (kind, status, submitted_by, args, started, worker_pid, worker_started)
VALUES ('train', 'running', current_user::regrole, '{"project": "ghost"}', now(), pg_backend_pid(), now() - interval '1 hour')
RETURNING id AS reused \gset
SELECT is((SELECT status FROM aifactory.jobs WHERE id = :reused), 'failed',
          'a worker pid now used by another process does not keep a job alive');
SELECT ok((SELECT count(*) FROM aifactory.jobs WHERE status IN ('queued', 'running')) = 1,
          'only the tune job is still queued');

SELECT * FROM finish();
ROLLBACK;

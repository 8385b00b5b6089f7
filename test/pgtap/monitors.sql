-- Drift monitors (DESIGN.md section 3, "Drift and monitoring"):
-- create_monitor() and drop_monitor() check their arguments and the
-- caller's ownership and change nothing when they fail; run_monitors()
-- runs each due monitor's drift(), records a report, alerts on drift,
-- moves next_run on, and records a failing monitor's error without
-- stopping the round; a 'retrain' monitor's round submits a retrain() job
-- on drift, and retrain() trains a challenger and deploys it only when it
-- beats the champion on held-out rows.  Jobs start when the submitting
-- transaction commits, and this one never does: the test runs retrain()
-- itself, as the job would (test/system/monitors.sh runs the real job).
--
-- Roles are cluster-wide: everything runs in one transaction that is rolled
-- back at the end, so the roles never outlive the test.  now() is fixed in
-- that transaction, so each monitor is due once.

SET client_min_messages = warning;
BEGIN;
SELECT plan(70);

-- ---- roles and data ---------------------------------------------------------

CREATE ROLE aif_mon_alice;
CREATE ROLE aif_mon_bob;

-- x1, x2 uniform on [0, 10); "shifted" moves both by +5
SELECT setseed(0.42) AS seeded \gset
CREATE TABLE base AS
    SELECT i AS id, 10 * random() AS x1, 10 * random() AS x2, 0::float8 AS y
    FROM generate_series(1, 2000) i;
UPDATE base SET y = x1 + 2 * x2 + random();
CREATE TABLE fresh AS
    SELECT i AS id, 10 * random() AS x1, 10 * random() AS x2 FROM generate_series(1, 500) i;
CREATE TABLE shifted AS SELECT id, x1 + 5 AS x1, x2 + 5 AS x2 FROM fresh;
CREATE TABLE half_shifted AS SELECT id, x1 + 5 AS x1, x2 FROM fresh;
CREATE TABLE doomed AS SELECT * FROM fresh;
GRANT SELECT ON base, fresh, shifted, half_shifted, doomed TO aif_mon_alice;

-- retraining: champions learn y = 2x + noise on x in [0, 10); "changed" has
-- x in [10, 20) and y = -3x + 5 (the challenger must win); "same" has the
-- same relationship, 24 very noisy rows (the exact champion must win)
CREATE TABLE rbase AS SELECT i AS id, 10 * random() AS x, 0::float8 AS y
    FROM generate_series(1, 1000) i;
UPDATE rbase SET y = 2 * x + random();
CREATE TABLE rchanged AS SELECT i AS id, 10 + 10 * random() AS x, 0::float8 AS y
    FROM generate_series(1, 1000) i;
UPDATE rchanged SET y = -3 * x + 5 + random();
CREATE TABLE rsame AS SELECT i AS id, 10 + 10 * random() AS x, 0::float8 AS y
    FROM generate_series(1, 24) i;
UPDATE rsame SET y = 2 * x + 40 * (random() - 0.5);
GRANT SELECT ON rbase, rchanged, rsame TO aif_mon_alice;

SET ROLE aif_mon_alice;
SELECT aifactory.train('p', 'base', 'y', 'linear', '{}', ARRAY['x1', 'x2'], seed => 1) IS NOT NULL AS trained \gset
SELECT aifactory.train('undeployed', 'base', 'y', 'linear', '{}', ARRAY['x1', 'x2'],
                       seed => 1, deploy => 'none') IS NOT NULL AS trained \gset
SELECT aifactory.train('clusters', 'base', NULL, 'kmeans', '{"n_clusters": 2}', ARRAY['x1', 'x2'],
                       seed => 1) IS NOT NULL AS trained \gset
SELECT count(*) AS trained FROM unnest(ARRAY['r_changed', 'r_same', 'r_failing']) p,
    LATERAL aifactory.train(p, 'rbase', 'y', 'linear', '{}', ARRAY['x'], seed => 1) t \gset
RESET ROLE;

-- ---- create_monitor: errors change nothing ----------------------------------

SELECT throws_ok($$SELECT aifactory.create_monitor('nope', 'fresh', '1 hour')$$, '42704', NULL,
                 'an unknown project: 42704');
SELECT throws_ok($$SELECT aifactory.create_monitor('undeployed', 'fresh', '1 hour')$$, '55000', NULL,
                 'a project without a deployed model: 55000');
SELECT throws_ok($$SELECT aifactory.create_monitor('p', 'fresh', '0 seconds')$$, '22023', NULL,
                 'every = 0: 22023');
SELECT throws_ok($$SELECT aifactory.create_monitor('p', 'fresh', '-1 hour')$$, '22023', NULL,
                 'a negative every: 22023');
SELECT throws_ok($$SELECT aifactory.create_monitor('p', 'fresh', '1 hour', 'page')$$, '22023', NULL,
                 'an unknown on_drift: 22023');
SELECT throws_ok($$SELECT aifactory.create_monitor('clusters', 'fresh', '1 hour', 'retrain')$$, '0A000', NULL,
                 'on_drift retrain of a clustering project: 0A000');
SELECT throws_ok($$SELECT aifactory.create_monitor('p', 'no_such_table', '1 hour')$$, '42P01', NULL,
                 'a source that does not exist: 42P01');
SELECT throws_ok($$SELECT aifactory.create_monitor('p', 'SELECT nonsense FROM fresh', '1 hour')$$, '42703', NULL,
                 'a query that does not parse: 42703');
SELECT throws_ok($$SELECT aifactory.create_monitor('p', 'fresh', NULL)$$, '22004', NULL,
                 'a NULL every: 22004');
SET ROLE aif_mon_bob;
SELECT throws_ok($$SELECT aifactory.create_monitor('p', 'fresh', '1 hour')$$, '42501', NULL,
                 'a non-owner cannot create a monitor: 42501');
SELECT throws_ok($$INSERT INTO aifactory.monitors (project, source, every, owner)
                   VALUES ('p', 'fresh', '1 hour', 'aif_mon_bob')$$, '42501', NULL,
                 'nobody writes monitors directly');
SELECT throws_ok($$INSERT INTO aifactory.drift_reports (monitor_id, project, action)
                   VALUES (1, 'p', 'none')$$, '42501', NULL,
                 'nobody writes drift_reports directly');
RESET ROLE;
SELECT is((SELECT count(*) FROM aifactory.monitors), 0::bigint, 'failed calls made no monitor');
SELECT is((SELECT count(*) FROM aifactory.audit_log WHERE action = 'create_monitor'), 0::bigint,
          'and audited nothing');

-- ---- create_monitor ---------------------------------------------------------

SET ROLE aif_mon_alice;
SELECT aifactory.create_monitor('p', 'fresh', '1 hour') AS m_fresh \gset
SELECT aifactory.create_monitor('p', 'shifted', '30 minutes') AS m_shifted \gset
SELECT aifactory.create_monitor('p', 'doomed', '1 day') AS m_doomed \gset
SELECT aifactory.create_monitor('p', 'half_shifted', '1 day') AS m_half \gset
RESET ROLE;

SELECT is((SELECT count(*) FROM aifactory.monitors WHERE owner = 'aif_mon_alice'::regrole
           AND enabled AND on_drift = 'alert' AND next_run <= now() AND last_run IS NULL),
          4::bigint, 'four monitors, owned by their creator, due at once');
SELECT is((SELECT count(*) FROM aifactory.audit_log WHERE action = 'create_monitor'
           AND project = 'p' AND role = 'aif_mon_alice'), 4::bigint, 'each creation is audited');
SELECT is((SELECT detail->>'source' FROM aifactory.audit_log WHERE action = 'create_monitor'
           AND (detail->>'monitor')::bigint = :m_shifted), 'shifted', 'the audit names the source');

-- ---- run_monitors -----------------------------------------------------------

DROP TABLE doomed;
SET ROLE aif_mon_bob;
SELECT is((SELECT count(*) FROM aifactory.run_monitors()), 0::bigint,
          'a round by another role runs none of alice''s monitors');
RESET ROLE;
SELECT is((SELECT count(*) FROM aifactory.drift_reports), 0::bigint, 'and records nothing');

SET ROLE aif_mon_alice;
CREATE TEMP TABLE round1 AS SELECT * FROM aifactory.run_monitors();
RESET ROLE;

SELECT is((SELECT count(*) FROM round1), 4::bigint, 'the round ran every due monitor');
SELECT results_eq($$SELECT drifted, action, version FROM round1 WHERE monitor_id = $$ || :m_fresh,
                  $$VALUES (false, 'none', 1)$$, 'same distribution: not drifted, no action');
SELECT results_eq($$SELECT drifted, share, action FROM round1 WHERE monitor_id = $$ || :m_shifted,
                  $$VALUES (true, 1::float8, 'alert')$$, 'shifted data: drifted, share 1, alert');
SELECT results_eq($$SELECT drifted, share, action FROM round1 WHERE monitor_id = $$ || :m_half,
                  $$VALUES (true, 0.5::float8, 'alert')$$, 'one of two features shifted: share 0.5, drifted');
SELECT results_eq($$SELECT drifted, action FROM round1 WHERE monitor_id = $$ || :m_doomed,
                  $$VALUES (NULL::boolean, 'none')$$, 'a dropped source: no verdict, no action');

SELECT results_eq($$SELECT drifted, action, drifted_features, version FROM aifactory.drift_reports
                    WHERE monitor_id = $$ || :m_fresh,
                  $$VALUES (false, 'none', '{}'::text[], 1)$$, 'the report of the fresh data');
SELECT results_eq($$SELECT drifted, action, drifted_features FROM aifactory.drift_reports
                    WHERE monitor_id = $$ || :m_shifted,
                  $$VALUES (true, 'alert', ARRAY['x1', 'x2'])$$, 'the report names both shifted features');
SELECT results_eq($$SELECT drifted_features FROM aifactory.drift_reports WHERE monitor_id = $$ || :m_half,
                  $$VALUES (ARRAY['x1'])$$, 'and only the shifted one');
SELECT is((SELECT jsonb_array_length(report) FROM aifactory.drift_reports WHERE monitor_id = :m_shifted),
          4, 'the report holds drift()''s rows: two features, the predictions, the dataset');
SELECT is((SELECT (r->>'statistic')::float8 FROM aifactory.drift_reports,
                  jsonb_array_elements(report) r
           WHERE monitor_id = :m_shifted AND r->>'feature' = '(dataset)'), 1::float8,
          'the dataset row is in the report');
SELECT results_eq($$SELECT detail->>'sqlstate', detail->>'error' FROM aifactory.drift_reports
                    WHERE monitor_id = $$ || :m_doomed,
                  $$VALUES ('42P01', 'relation "doomed" does not exist')$$,
                  'a failing monitor records its error');
SELECT is((SELECT count(*) FROM aifactory.monitors WHERE last_run = now()
           AND next_run = now() + every), 4::bigint,
          'every monitor run, the failing one too, has last_run now and next_run a period later');

SET ROLE aif_mon_alice;
SELECT is((SELECT count(*) FROM aifactory.run_monitors()), 0::bigint,
          'a second round at once finds nothing due');
RESET ROLE;
SELECT is((SELECT count(*) FROM aifactory.drift_reports), 4::bigint, 'one report per run');

-- ---- drop_monitor -----------------------------------------------------------

SET ROLE aif_mon_bob;
SELECT throws_ok(format('SELECT aifactory.drop_monitor(%s)', :m_fresh), '42501', NULL,
                 'a non-owner cannot drop a monitor: 42501');
RESET ROLE;
SELECT is((SELECT count(*) FROM aifactory.monitors), 4::bigint, 'the monitor is still there');

SET ROLE aif_mon_alice;
SELECT ok(aifactory.drop_monitor(:m_doomed), 'its owner drops a monitor');
SELECT ok(NOT aifactory.drop_monitor(:m_doomed), 'dropping it again returns false');
RESET ROLE;
SELECT results_eq($$SELECT count(*) FROM aifactory.monitors WHERE id = $$ || :m_doomed,
                  $$VALUES (0::bigint)$$, 'the monitor is gone');
SELECT is((SELECT count(*) FROM aifactory.audit_log WHERE action = 'drop_monitor'
           AND (detail->>'monitor')::bigint = :m_doomed), 1::bigint,
          'the drop is audited once');
SELECT is((SELECT count(*) FROM aifactory.drift_reports WHERE monitor_id = :m_doomed), 1::bigint,
          'its reports stay');

-- ---- on_drift retrain ------------------------------------------------------

SET ROLE aif_mon_alice;
SELECT aifactory.create_monitor('r_changed', 'rchanged', '1 hour', 'retrain') AS m_changed \gset
SELECT aifactory.create_monitor('r_same', 'SELECT id, x, y FROM rsame', '1 hour', 'retrain') AS m_same \gset
-- no target in the source: drift() works, training the challenger fails
SELECT aifactory.create_monitor('r_failing', 'SELECT id, x FROM rchanged', '1 hour', 'retrain') AS m_failing \gset
CREATE TEMP TABLE round2 AS SELECT * FROM aifactory.run_monitors();
RESET ROLE;

CREATE TEMP VIEW deployed AS
    SELECT DISTINCT ON (p.name) p.name AS project, m.version
    FROM aifactory.deployments d JOIN aifactory.models m ON m.id = d.model_id
    JOIN aifactory.projects p ON p.id = m.project_id ORDER BY p.name, d.id DESC;
CREATE TEMP VIEW decision AS
    SELECT monitor_id, detail FROM aifactory.drift_reports WHERE action = 'retrain';

SELECT is((SELECT count(*) FROM aifactory.monitors WHERE on_drift = 'retrain'), 3::bigint,
          'retrain monitors are accepted for regression projects');
SELECT results_eq($$SELECT monitor_id, drifted, action, version FROM round2 ORDER BY monitor_id$$,
                  format($$VALUES (%s::bigint, true, 'retrain', 1), (%s, true, 'retrain', 1), (%s, true, 'retrain', 1)$$,
                         :m_changed, :m_same, :m_failing),
                  'drifted retrain monitors retrain, reporting the champion''s version');
SELECT results_eq($$SELECT j.kind, j.status, j.submitted_by::text, (j.args->>'monitor')::bigint, (j.args->>'report')::bigint
                    FROM aifactory.drift_reports r JOIN aifactory.job_runs j ON j.id = (r.detail->>'job')::bigint
                    WHERE r.action = 'retrain' ORDER BY r.monitor_id$$,
                  $$SELECT 'retrain'::text, 'queued'::text, 'aif_mon_alice'::text, monitor_id, id
                    FROM aifactory.drift_reports WHERE action = 'retrain' ORDER BY monitor_id$$,
                  'the round submits one retrain job per drifted monitor, as its owner, naming the report');
SELECT is((SELECT count(*) FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
           WHERE p.name IN ('r_changed', 'r_same', 'r_failing')), 3::bigint,
          'the round itself trains nothing');

-- what each job runs, run here
SELECT throws_ok(format('SELECT * FROM aifactory.retrain(%s, %s)', :m_changed,
                        (SELECT id FROM aifactory.drift_reports WHERE monitor_id = :m_same)),
                 '22023', NULL, 'retrain() refuses a report of another monitor');
SELECT throws_ok('SELECT * FROM aifactory.retrain(-1)', '42704', NULL, 'retrain() of no monitor: 42704');
SELECT throws_ok('SELECT * FROM aifactory.retrain(NULL)', '22004', NULL, 'retrain() of a NULL monitor: 22004');
SET ROLE aif_mon_bob;
SELECT throws_ok(format('SELECT * FROM aifactory.retrain(%s)', :m_changed), '42501', NULL,
                 'retrain() of another role''s monitor: 42501');
SET ROLE aif_mon_alice;
CREATE TEMP TABLE retrained AS
    SELECT r.monitor_id, t.* FROM aifactory.drift_reports r,
         LATERAL aifactory.retrain(r.monitor_id, r.id) t
    WHERE r.action = 'retrain' ORDER BY r.monitor_id;
RESET ROLE;
SELECT results_eq($$SELECT monitor_id, project, version, promoted FROM retrained ORDER BY monitor_id$$,
                  format($$VALUES (%s::bigint, 'r_changed'::text, 2, true), (%s, 'r_same', 1, false), (%s, 'r_failing', 1, false)$$,
                         :m_changed, :m_same, :m_failing),
                  'retrain() returns the deployed version after its decision');
SELECT ok((SELECT bool_and(r.detail = t.decision || jsonb_build_object('job', r.detail->'job')
                    AND r.detail ? 'job') FROM retrained t
           JOIN aifactory.drift_reports r ON r.monitor_id = t.monitor_id AND r.action = 'retrain'),
          'and writes its decision into the report''s detail, which keeps the job''s id');
SELECT results_eq($$SELECT detail->>'metric', (detail->>'holdout_rows')::int > 100,
                           (detail->'champion'->>'version')::int, (detail->'challenger'->>'version')::int,
                           (detail->>'promoted')::boolean FROM decision WHERE monitor_id = $$ || :m_changed,
                  $$VALUES ('r2', true, 1, 2, true)$$,
                  'a changed relationship: challenger version 2 scored on held-out rows and promoted');
SELECT ok((SELECT (detail->'challenger'->>'score')::float8 > 0.99
                  AND (detail->'champion'->>'score')::float8 < 0 FROM decision WHERE monitor_id = :m_changed),
          'the challenger fits the new relationship, the champion does not');
SELECT is((SELECT version FROM deployed WHERE project = 'r_changed'), 2, 'the challenger is deployed');
SELECT results_eq($$SELECT role, version, (detail->>'promoted')::boolean, (detail->'challenger'->>'version')::int
                    FROM aifactory.audit_log WHERE action = 'monitor_retrain' AND project = 'r_changed'
                    AND (detail->>'monitor')::bigint = $$ || :m_changed,
                  $$VALUES ('aif_mon_alice'::text, 1, true, 2)$$,
                  'the decision is audited as monitor_retrain, by the monitor''s owner');

SELECT results_eq($$SELECT (detail->'challenger'->>'version')::int, (detail->>'promoted')::boolean
                    FROM decision WHERE monitor_id = $$ || :m_same,
                  $$VALUES (2, false)$$, 'the same relationship, few noisy rows: the challenger is not promoted');
SELECT ok((SELECT (detail->'challenger'->>'score')::float8 <= (detail->'champion'->>'score')::float8
           FROM decision WHERE monitor_id = :m_same),
          'the decision matches the recorded scores');
SELECT is((SELECT version FROM deployed WHERE project = 'r_same'), 1, 'the champion stays deployed');
SELECT is((SELECT count(*) FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
           WHERE p.name = 'r_same'), 2::bigint, 'the challenger stays registered as version 2');
SELECT is((SELECT (detail->>'promoted')::boolean FROM aifactory.audit_log
           WHERE action = 'monitor_retrain' AND project = 'r_same'), false, 'and the decision is audited');

SELECT results_eq($$SELECT detail->>'sqlstate', (detail->>'promoted')::boolean, detail ? 'challenger'
                    FROM decision WHERE monitor_id = $$ || :m_failing,
                  $$VALUES ('42703', false, false)$$,
                  'a failed retraining records its error and promotes nothing');
SELECT is((SELECT count(*) FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
           WHERE p.name = 'r_failing'), 1::bigint, 'and leaves no challenger');
SELECT is((SELECT version FROM deployed WHERE project = 'r_failing'), 1, 'the champion stays');
SELECT is((SELECT count(*) FROM aifactory.audit_log WHERE action = 'monitor_retrain'
           AND project = 'r_failing' AND detail ? 'error'), 1::bigint, 'the failure is audited');

SELECT is((SELECT drifted FROM aifactory.drift('r_changed', 'rchanged') WHERE kind = 'dataset'), false,
          'the promoted challenger has a baseline, and the current data no longer drifts from it');

SELECT is((SELECT drift_status FROM aifactory.overview WHERE project = 'r_changed'), 'drifted',
          'overview shows the latest monitor run''s verdict');
SELECT is((SELECT drift_status FROM aifactory.overview WHERE project = 'clusters'), NULL,
          'and NULL for a project no monitor has run on');

-- a classifier: the champion learns label = x > 5 on x in [0, 10); the new
-- data has x in [10, 20) and label = x < 15, so the champion calls every row
-- true and only the challenger separates the classes (macro F1)
SELECT setseed(0.33);
CREATE TABLE cbase AS SELECT i AS id, 10 * random() AS x FROM generate_series(1, 1000) i;
ALTER TABLE cbase ADD COLUMN label boolean;
UPDATE cbase SET label = x > 5;
CREATE TABLE cchanged AS SELECT i AS id, 10 + 10 * random() AS x FROM generate_series(1, 1000) i;
ALTER TABLE cchanged ADD COLUMN label boolean;
UPDATE cchanged SET label = x < 15;
GRANT SELECT ON cbase, cchanged TO aif_mon_alice;
SET ROLE aif_mon_alice;
SELECT version AS c_version FROM aifactory.train('c_changed', 'SELECT x, label FROM cbase', 'label', 'logistic',
                                                  '{"C": 100}', seed => 1) \gset
SELECT aifactory.create_monitor('c_changed', 'SELECT id, x, label FROM cchanged', '1 hour', 'retrain') AS m_class \gset
CREATE TEMP TABLE round3 AS SELECT * FROM aifactory.run_monitors();
SELECT count(*) AS retrained_class FROM aifactory.drift_reports r, LATERAL aifactory.retrain(r.monitor_id, r.id)
    WHERE r.monitor_id = :m_class AND r.action = 'retrain' \gset
RESET ROLE;
SELECT results_eq($$SELECT monitor_id, drifted, action FROM round3$$,
                  format($$VALUES (%s::bigint, true, 'retrain')$$, :m_class),
                  'a classifier''s retrain monitor: drifted, retrained');
SELECT results_eq($$SELECT detail->>'metric', (detail->'challenger'->>'version')::int, (detail->>'promoted')::boolean
                    FROM decision WHERE monitor_id = $$ || :m_class,
                  $$VALUES ('f1', 2, true)$$,
                  'classification: the challenger is scored by macro F1 and promoted');
SELECT ok((SELECT (detail->'challenger'->>'score')::float8 > 0.9
                  AND (detail->'champion'->>'score')::float8 < 0.5 FROM decision WHERE monitor_id = :m_class),
          'the challenger separates the new classes, the champion (every row true) does not');
SELECT is((SELECT version FROM deployed WHERE project = 'c_changed'), 2, 'the classifier challenger is deployed');

SELECT * FROM finish();
ROLLBACK;

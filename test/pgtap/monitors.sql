-- Drift monitors (DESIGN.md section 3, "Drift and monitoring"):
-- create_monitor() and drop_monitor() check their arguments and the
-- caller's ownership and change nothing when they fail; run_monitors()
-- runs each due monitor's drift(), records a report, alerts on drift,
-- moves next_run on, and records a failing monitor's error without
-- stopping the round.
--
-- Roles are cluster-wide: everything runs in one transaction that is rolled
-- back at the end, so the roles never outlive the test.  now() is fixed in
-- that transaction, so each monitor is due once.

SET client_min_messages = warning;
BEGIN;
SELECT plan(40);

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

SET ROLE aif_mon_alice;
SELECT aifactory.train('p', 'base', 'y', 'linear', '{}', ARRAY['x1', 'x2'], seed => 1) IS NOT NULL AS trained \gset
SELECT aifactory.train('undeployed', 'base', 'y', 'linear', '{}', ARRAY['x1', 'x2'],
                       seed => 1, deploy => 'none') IS NOT NULL AS trained \gset
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
SELECT throws_ok($$SELECT aifactory.create_monitor('p', 'fresh', '1 hour', 'retrain')$$, '0A000', NULL,
                 'on_drift retrain is not supported yet: 0A000');
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

SELECT * FROM finish();
ROLLBACK;

-- Live traffic and feedback (issue 7, parts 4-5): set_traffic() splits
-- keyed predictions between versions by a stable hash of the key;
-- set_logging() logs them; record_outcome() joins the truth in;
-- live_metrics() scores each version.  Another session seeing a new split
-- at its next statement: test/system/traffic.sh.
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.

SET client_min_messages = warning;
SELECT plan(66);

-- y = 2x, y = -2x, y = 3x exactly: at x = 1 they predict 2, -2, 3, so a
-- prediction names the version that made it.
CREATE TABLE t AS
SELECT i::float8 AS x, 2 * i::float8 AS up, -2 * i::float8 AS down, 3 * i::float8 AS steep
FROM generate_series(1, 20) i;
SELECT version FROM aifactory.train('p', 'SELECT x, up FROM t', 'up', seed => 1) \gset
SELECT version FROM aifactory.train('p', 'SELECT x, down FROM t', 'down', seed => 1, deploy => 'none') \gset
SELECT version FROM aifactory.train('p', 'SELECT x, steep FROM t', 'steep', seed => 1, deploy => 'none') \gset

CREATE FUNCTION pg_temp.split(project text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT COALESCE(jsonb_object_agg(s.version, s.weight ORDER BY s.version), '{}')
    FROM aifactory.traffic_splits s JOIN aifactory.projects p ON p.id = s.project_id
    WHERE p.name = project
$$;
CREATE TABLE keys AS SELECT 'user-' || i AS k FROM generate_series(1, 20000) i;

-- ---- no split: the deployed model ------------------------------------------------

SELECT is((SELECT count(DISTINCT aifactory.route('p', k)) FROM keys WHERE k < 'user-2'), 1::bigint,
          'without a split every key routes to one version');
SELECT is(aifactory.route('p', 'anyone'), 1, '... the deployed one');
SELECT is(aifactory.predict('p', ARRAY[1.0]::float8[], 'anyone'), 2::float8,
          'keyed predict without a split uses the deployed model');

-- ---- set_traffic ------------------------------------------------------------------

SELECT results_eq($$SELECT version, weight FROM aifactory.set_traffic('p', '{"1": 0.9, "2": 0.1}')$$,
                  $$VALUES (1, 0.9::float8), (2, 0.1::float8)$$,
                  'set_traffic returns the split');
SELECT is(pg_temp.split('p'), '{"1": 0.9, "2": 0.1}'::jsonb, 'traffic_splits holds it');
SELECT is((SELECT detail FROM aifactory.audit_log WHERE action = 'set_traffic' ORDER BY id DESC LIMIT 1),
          '{"split": {"1": 0.9, "2": 0.1}}'::jsonb, 'and the audit log records it');
SELECT throws_ok($$SELECT aifactory.drop_model('p', 2)$$, '55006', NULL,
                 'a version in the split cannot be dropped');
SELECT is(pg_temp.split('p'), '{"1": 0.9, "2": 0.1}'::jsonb, 'the split is unchanged');

-- 20000 keys, P(version 2) = 0.1: 2000 expected, sigma = sqrt(20000 * 0.1 * 0.9) = 42.4;
-- 4.5 sigma = 191 (a false failure about once in 150000 runs, and the hash is fixed, so never).
CREATE TABLE routed AS
SELECT k, aifactory.route('p', k) AS v, aifactory.predict('p', ARRAY[1.0]::float8[], k) AS y FROM keys;
SELECT ok((SELECT count(*) FROM routed WHERE v = 2) BETWEEN 2000 - 191 AND 2000 + 191,
          '90/10 split: version 2 gets 10 % of 20000 keys within 4.5 sigma');
SELECT is((SELECT count(*) FROM routed WHERE v NOT IN (1, 2)), 0::bigint, 'only versions 1 and 2 are used');
SELECT is((SELECT count(*) FROM routed WHERE (v = 1 AND y <> 2) OR (v = 2 AND y <> -2)), 0::bigint,
          'predict(..., key) uses the version route() names, for every key');

-- The routing is documented as hashtextextended(key, seed) mapped to [0, 1).
SELECT is((SELECT count(*) FROM keys,
                LATERAL (SELECT hashtextextended(k, 7019254062700064626)::numeric AS h) s,
                LATERAL (SELECT floor((CASE WHEN h < 0 THEN h + 18446744073709551616 ELSE h END)
                                      / 2048) / 9007199254740992 AS u) s2
           WHERE aifactory.route('p', k) <> CASE WHEN u < 0.9 THEN 1 ELSE 2 END),
          0::bigint, 'route() is hashtextextended(key, seed) against the cumulative weights');

SELECT is((SELECT count(*) FROM routed r WHERE aifactory.route('p', r.k) <> r.v), 0::bigint,
          'stickiness: every key gets the same version in a later statement');
SELECT is((SELECT count(DISTINCT aifactory.predict('p', ARRAY[1.0]::float8[], 'user-7'))
           FROM generate_series(1, 50)), 1::bigint, 'and the same key 50 times in one statement');
SELECT is(aifactory.predict('p', ARRAY[1.0]::float8[]), 2::float8,
          'the unkeyed predict keeps serving the deployed model');

-- 80/20: keys only move from version 1 to version 2 (the interval of 2 grows).
SELECT * FROM aifactory.set_traffic('p', '{"1": 0.8, "2": 0.2}');
SELECT is((SELECT count(*) FROM routed WHERE v = 2 AND aifactory.route('p', k) <> 2), 0::bigint,
          'widening version 2 keeps every key it had');
SELECT ok((SELECT count(*) FROM keys WHERE aifactory.route('p', k) = 2) BETWEEN 4000 - 254 AND 4000 + 254,
          '80/20 split: version 2 gets 20 % within 4.5 sigma (56.6)');

-- three versions
SELECT * FROM aifactory.set_traffic('p', '{"3": 0.25, "1": 0.5, "2": 0.25}');
SELECT ok((SELECT bool_and(c BETWEEN e - 4.5 * sqrt(20000 * (e / 20000.0) * (1 - e / 20000.0))
                                AND e + 4.5 * sqrt(20000 * (e / 20000.0) * (1 - e / 20000.0)))
           FROM (SELECT aifactory.route('p', k) AS v, count(*) AS c FROM keys GROUP BY 1) s
           JOIN (VALUES (1, 10000), (2, 5000), (3, 5000)) AS w(v, e) USING (v)),
          'a three-way 50/25/25 split within 4.5 sigma per version');

-- ---- errors leave the split alone -------------------------------------------------

SELECT * FROM aifactory.set_traffic('p', '{"1": 0.9, "2": 0.1}');
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '{"1": 0.5, "9": 0.5}')$$, '42704', NULL,
                 'an unknown version: 42704');
SELECT is(pg_temp.split('p'), '{"1": 0.9, "2": 0.1}'::jsonb, '... the split is unchanged');
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '{"1": 0.5, "2": 0.4}')$$, '22023', NULL,
                 'weights summing to 0.9: 22023');
SELECT is(pg_temp.split('p'), '{"1": 0.9, "2": 0.1}'::jsonb, '... unchanged');
SELECT lives_ok($$SELECT * FROM aifactory.set_traffic('p', '{"1": 0.3, "2": 0.7000000000001}')$$,
                'a sum within 1e-9 of 1 is accepted');
SELECT * FROM aifactory.set_traffic('p', '{"1": 0.9, "2": 0.1}');
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '{"1": 1.1, "2": -0.1}')$$, '22023', NULL,
                 'a negative weight: 22023');
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '{"1": 0, "2": 1}')$$, '22023', NULL,
                 'a zero weight: 22023');
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '{"one": 1}')$$, '22023', NULL,
                 'a key that is not a version: 22023');
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '[1]')$$, '22023', NULL,
                 'not an object: 22023');
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '{}')$$, '22023', NULL,
                 'no version: 22023');
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('nope', '{"1": 1}')$$, '42704', NULL,
                 'an unknown project: 42704');
SELECT is(pg_temp.split('p'), '{"1": 0.9, "2": 0.1}'::jsonb, '... unchanged after all of them');

SELECT aifactory.drop_model('p', 3);
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '{"1": 0.5, "3": 0.5}')$$, '55000', NULL,
                 'a dropped version: 55000');
SELECT is(pg_temp.split('p'), '{"1": 0.9, "2": 0.1}'::jsonb, '... unchanged');

BEGIN;
CREATE ROLE aif_tap_traffic_mallory;
SET LOCAL ROLE aif_tap_traffic_mallory;
SELECT throws_ok($$SELECT * FROM aifactory.set_traffic('p', '{"2": 1}')$$, '42501', NULL,
                 'a role that does not own the project: 42501');
SELECT throws_ok($$SELECT aifactory.set_logging('p', true)$$, '42501', NULL,
                 'nor may it turn logging on');
SELECT throws_ok($$SELECT aifactory.record_outcome('p', 'user-1', 2.0)$$, '42501', NULL,
                 'nor record outcomes');
SELECT is(aifactory.predict('p', ARRAY[1.0]::float8[], 'user-1'), 2::float8, 'but it may predict with a key');
RESET ROLE;
SELECT is(pg_temp.split('p'), '{"1": 0.9, "2": 0.1}'::jsonb, '... unchanged');
ROLLBACK;

-- a rolled-back split is no split
BEGIN;
SELECT * FROM aifactory.set_traffic('p', '{"2": 1}');
SELECT is(aifactory.route('p', 'user-1'), 2, 'in the transaction that set it, the new split is used');
ROLLBACK;
SELECT is(aifactory.route('p', 'user-1'), (SELECT v FROM routed WHERE k = 'user-1'),
          'after ROLLBACK the old split is back');

SELECT is((SELECT count(*) FROM aifactory.set_traffic('p', NULL)), 0::bigint, 'set_traffic(p, NULL) returns no rows');
SELECT is(pg_temp.split('p'), '{}'::jsonb, '... and removes the split');
SELECT is((SELECT count(*) FROM keys WHERE aifactory.route('p', k) <> 1), 0::bigint,
          'every key routes to the deployed version again');

-- ---- logging ------------------------------------------------------------------------

SELECT aifactory.predict('p', ARRAY[1.0]::float8[], 'off-' || i) FROM generate_series(1, 5) i;
SELECT is((SELECT count(*) FROM aifactory.prediction_log), 0::bigint, 'logging off: nothing is logged');

SELECT aifactory.set_logging('p', true);
SELECT * FROM aifactory.set_traffic('p', '{"1": 0.5, "2": 0.5}');
SELECT aifactory.predict('p', ARRAY[i]::float8[], 'r-' || i) FROM generate_series(1, 40) i;
SELECT is((SELECT count(*) FROM aifactory.prediction_log), 40::bigint,
          'logging on: the next statement sees every prediction of the last one');
SELECT is((SELECT count(*) FROM aifactory.prediction_log
           WHERE version <> aifactory.route('p', key)
              OR prediction <> CASE version WHEN 1 THEN 2 ELSE -2 END * (inputs->>0)::float8),
          0::bigint, 'each row has its key, version, inputs and prediction');
SELECT aifactory.predict('p', ARRAY[1.0]::float8[]) FROM generate_series(1, 3);
SELECT is((SELECT count(*) FROM aifactory.prediction_log), 40::bigint, 'the unkeyed predict never logs');
SELECT aifactory.predict('p', t, 'row-' || x) FROM t WHERE x <= 2;
SELECT is((SELECT inputs FROM aifactory.prediction_log WHERE key = 'row-2'), '{"x": 2}'::jsonb,
          'the row form logs the features by name');

BEGIN;
SELECT aifactory.predict('p', ARRAY[1.0]::float8[], 'gone-' || i) FROM generate_series(1, 5) i;
SAVEPOINT s;
SELECT aifactory.predict('p', ARRAY[1.0]::float8[], 'gone-sp');
ROLLBACK TO SAVEPOINT s;
SELECT is((SELECT count(*) FROM aifactory.prediction_log WHERE key LIKE 'gone-%'), 5::bigint,
          'a rolled-back savepoint takes its predictions along');
ROLLBACK;
SELECT is((SELECT count(*) FROM aifactory.prediction_log WHERE key LIKE 'gone-%'), 0::bigint,
          'a rolled-back transaction logs nothing');

-- PL/pgSQL simple expressions never reach ExecutorEnd: flushed before commit
CREATE FUNCTION pg_temp.predict_in_plpgsql() RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE y float8;
BEGIN
    y := aifactory.predict('p', ARRAY[3.0]::float8[], 'plpgsql');
    RETURN y;
END $$;
SELECT pg_temp.predict_in_plpgsql();
SELECT is((SELECT count(*) FROM aifactory.prediction_log WHERE key = 'plpgsql'), 1::bigint,
          'a prediction in a PL/pgSQL assignment is logged');

BEGIN READ ONLY;
SELECT throws_ok($$SELECT aifactory.predict('p', ARRAY[1.0]::float8[], 'ro')$$, '25006', NULL,
                 'logging in a read-only transaction: 25006');
ROLLBACK;
SELECT throws_ok($$SELECT aifactory.predict('p', ARRAY[1.0]::float8[], NULL)$$, '22004', NULL,
                 'a NULL key: 22004');

-- ---- outcomes and live metrics --------------------------------------------------------

SELECT is(aifactory.record_outcome('p', 'r-1', 2.5), 1::bigint, 'record_outcome matches the one prediction of r-1');
SELECT aifactory.predict('p', ARRAY[1.0]::float8[], 'r-1');
SELECT is(aifactory.record_outcome('p', 'r-1', 2.0), 2::bigint, 'and both once r-1 was predicted again');
SELECT is(aifactory.record_outcome('p', 'nobody', 1.0), 0::bigint, 'an unknown key matches nothing');
SELECT throws_ok($$SELECT aifactory.record_outcome('p', 'r-1', 'abc'::text)$$, '22P02', NULL,
                 'a regression outcome that is not a number: 22P02');
SELECT throws_ok($$SELECT aifactory.record_outcome('nope', 'r-1', 1.0)$$, '42704', NULL,
                 'an unknown project: 42704');

-- outcomes y = 2x + (x mod 3): both versions are off by known amounts
SELECT sum(aifactory.record_outcome('p', 'r-' || i, 2.0 * i + i % 3)) FROM generate_series(1, 40) i;
CREATE TABLE expected AS
SELECT version, count(*) AS n,
       1 - sum((actual::float8 - prediction) ^ 2) / sum((actual::float8 - m) ^ 2) AS r2,
       sqrt(avg((actual::float8 - prediction) ^ 2)) AS rmse,
       avg(abs(actual::float8 - prediction)) AS mae
FROM (SELECT *, avg(actual::float8) OVER (PARTITION BY version) AS m
      FROM aifactory.prediction_log WHERE actual IS NOT NULL) s
GROUP BY version;
SELECT is((SELECT sum(n) FROM expected), 41::numeric, '41 predictions have outcomes (r-1 twice)');
SELECT is((SELECT count(*) FROM aifactory.live_metrics('p') l JOIN expected e USING (version)
           WHERE l.n = e.n AND abs(l.value - CASE l.metric WHEN 'r2' THEN e.r2 WHEN 'rmse' THEN e.rmse
                                                           WHEN 'mae' THEN e.mae END) < 1e-9),
          (SELECT 3 * count(*) FROM expected),
          'live_metrics: r2, rmse and mae per version equal a hand computation');
SELECT is((SELECT count(*) FROM aifactory.live_metrics('p', now() + interval '1 hour')), 0::bigint,
          'since excludes earlier predictions');

-- classification: a boolean label, logistic regression, outcomes by hand
CREATE TABLE c AS SELECT i::float8 AS x, i > 10 AS label FROM generate_series(1, 20) i;
SELECT version FROM aifactory.train('c', 'SELECT x, label FROM c', 'label', algorithm => 'logistic', test_size => 0) \gset
SELECT aifactory.set_logging('c', true);
SELECT aifactory.predict_class('c', ARRAY[x], 'c-' || x) FROM c;
-- the truth: the label, except four flipped
SELECT sum(aifactory.record_outcome('c', 'c-' || x, CASE WHEN x IN (2, 5, 15, 18) THEN NOT label ELSE label END)) FROM c;
CREATE TABLE cexp AS
WITH r AS (SELECT predicted_class AS p, actual AS a, probabilities[2] AS s
           FROM aifactory.prediction_log l JOIN aifactory.projects j ON j.id = l.project_id
           WHERE j.name = 'c'),
     f AS (SELECT cls, 2.0 * count(*) FILTER (WHERE p = cls AND a = cls)
                       / NULLIF(count(*) FILTER (WHERE p = cls) + count(*) FILTER (WHERE a = cls), 0) AS f1
           FROM r, (VALUES ('true'), ('false')) v(cls) GROUP BY cls)
SELECT (SELECT avg((p = a)::int) FROM r) AS accuracy, (SELECT avg(f1) FROM f) AS f1,
       (SELECT avg(CASE WHEN a = 'true' THEN -ln(s) ELSE -ln(1 - s) END) FROM r) AS log_loss;
SELECT is((SELECT count(*) FROM aifactory.live_metrics('c') l, cexp e
           WHERE abs(l.value - CASE l.metric WHEN 'accuracy' THEN e.accuracy WHEN 'f1' THEN e.f1
                                             WHEN 'log_loss' THEN e.log_loss END) < 1e-9),
          3::bigint, 'live_metrics: accuracy, macro f1 and log_loss equal a hand computation');
SELECT is((SELECT array_agg(metric ORDER BY metric) FROM aifactory.live_metrics('c')),
          ARRAY['accuracy', 'f1', 'log_loss', 'precision', 'recall', 'roc_auc'],
          'a binary classifier reports six metrics');

-- ---- parallel query ----------------------------------------------------------------------

CREATE TABLE big AS SELECT i::float8 AS x FROM generate_series(1, 50000) i;
ANALYZE big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; s text := '';
BEGIN
    FOR r IN EXECUTE 'EXPLAIN ' || q LOOP s := s || r || E'\n'; END LOOP;
    RETURN s;
END $$;
SELECT matches(pg_temp.plan_of($$SELECT sum(aifactory.predict('p', ARRAY[x])) FROM big$$), 'Gather',
               'the unkeyed predict runs in a parallel plan');
SELECT doesnt_match(pg_temp.plan_of($$SELECT sum(aifactory.predict('p', ARRAY[x], x::text)) FROM big$$), 'Gather',
                    'the keyed predict is PARALLEL UNSAFE: no parallel plan');
-- a wrapper wrongly marked PARALLEL SAFE pushes it into a worker: a clean error
CREATE FUNCTION public.sneaky(x float8) RETURNS float8 LANGUAGE plpgsql PARALLEL SAFE AS $$
BEGIN RETURN aifactory.predict('p', ARRAY[x], 'sneaky-' || x); END $$;
CREATE FUNCTION public.try_sneaky() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sum(public.sneaky(x)) FROM big;
    RETURN 'ran';
EXCEPTION WHEN invalid_transaction_state THEN RETURN 'refused';
END $$;
SELECT ok(public.try_sneaky() IN ('ran', 'refused'),
          'a keyed predict forced into parallel workers either runs in the leader or is refused cleanly');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT is(aifactory.predict('p', ARRAY[1.0]::float8[]), 2::float8, 'the session still works');

SELECT * FROM finish();

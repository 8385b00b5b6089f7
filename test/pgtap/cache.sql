-- The per-backend caches (registry/cache.c) behind predict(): which model a
-- project serves must follow deploys in this session statement by
-- statement, including the statements of a PL/pgSQL function, and undo
-- with a rolled-back subtransaction; cached models must never outlive the
-- registry rows they were read from.  (Other sessions' deploys: the system
-- test test/system/cache_invalidation.sh.)
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.

SET client_min_messages = warning;
SELECT plan(13);

-- y = 2x, y = -2x and y = 3x, exactly: predictions at x = 1 are 2, -2, 3.
CREATE TABLE t AS
SELECT i::float8 AS x, 2 * i::float8 AS up, -2 * i::float8 AS down, 3 * i::float8 AS steep
FROM generate_series(1, 20) i;

CREATE FUNCTION pg_temp.at1(project text) RETURNS float8 LANGUAGE sql AS $$
    SELECT round(aifactory.predict(project, ARRAY[1.0]::float8[])::numeric, 6)::float8
$$;

SELECT version AS v1 FROM aifactory.train('c', 'SELECT x, up FROM t', 'up', seed => 1) \gset
SELECT version AS v2 FROM aifactory.train('c', 'SELECT x, down FROM t', 'down', seed => 1, deploy => 'none') \gset
SELECT is(pg_temp.at1('c'), 2::float8, 'c serves v1 (y = 2x)');

-- ---- in this session ---------------------------------------------------------

SELECT is((SELECT version FROM aifactory.deploy('c', 2)), 2, 'deploy c v2 (y = -2x)');
SELECT is(pg_temp.at1('c'), -2::float8, 'the next statement predicts with v2');

BEGIN;
SELECT is(pg_temp.at1('c'), -2::float8, 'in a transaction: v2');
SAVEPOINT before_deploy;
SELECT is((SELECT version FROM aifactory.deploy('c', 1)), 1, 'deploy c v1 in a subtransaction');
SELECT is(pg_temp.at1('c'), 2::float8, 'the next statement predicts with v1');
ROLLBACK TO SAVEPOINT before_deploy;
SELECT is(pg_temp.at1('c'), -2::float8, 'after ROLLBACK TO SAVEPOINT: v2 again');
COMMIT;

-- Each statement of a PL/pgSQL function is a statement: a deploy made by
-- one is seen by the next (predict is STABLE, not IMMUTABLE).
CREATE FUNCTION pg_temp.predict_deploy_predict() RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
    seen float8[] := '{}';
    v int;
BEGIN
    FOREACH v IN ARRAY ARRAY[1, 2] LOOP
        seen := seen || round(aifactory.predict('c', ARRAY[1.0]::float8[])::numeric, 6)::float8;
        PERFORM aifactory.deploy('c', v);
    END LOOP;
    seen := seen || round(aifactory.predict('c', ARRAY[1.0]::float8[])::numeric, 6)::float8;
    RETURN seen;
END
$$;
SELECT is(pg_temp.predict_deploy_predict(), ARRAY[-2, 2, -2]::float8[],
          'in a PL/pgSQL loop, each predict sees the deploy of the statement before');
SELECT is(pg_temp.at1('c'), -2::float8, 'after the function: v2');

-- ---- the extension dropped and created again in this session ------------------
-- Model ids start at 1 again: a model cached by id from the old registry
-- must not stand in for the new model with the same id, and deploys into
-- the new deployments table must still reach the cache.

BEGIN;
DROP EXTENSION aifactory;
CREATE EXTENSION aifactory;
SELECT is((SELECT version FROM aifactory.train('e', 'SELECT x, down FROM t', 'down', seed => 1)), 1,
          'recreated extension: e v1 (y = -2x) is model id 1 again');
SELECT is(pg_temp.at1('e'), -2::float8, 'e predicts with its own model, not the old model 1 (y = 2x)');
SELECT is((SELECT version FROM aifactory.train('e', 'SELECT x, steep FROM t', 'steep', seed => 1, deploy => 'latest')), 2,
          'e v2 (y = 3x) deployed');
SELECT is(pg_temp.at1('e'), 3::float8, 'the deploy into the new deployments table is seen');
-- pgTAP keeps its results in temporary tables: finish before rolling back.
SELECT * FROM finish();
ROLLBACK;

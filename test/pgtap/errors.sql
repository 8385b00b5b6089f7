-- Every user error of train/deploy/predict/import gets a clean error with
-- the right SQLSTATE (DESIGN.md section 5), and a failed train() leaves
-- nothing registered.
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.
-- SQLSTATEs are the ones the C sources raise; where several calls share a
-- check, the offending name must appear in the message too.
--
-- Atomicity: each failing train() is followed by a check that projects,
-- models, deployments and audit_log still have the same row counts, and a
-- failed train() into an existing project must not use up a version
-- number.  The calls run inside throws_ok's subtransaction, so these checks
-- catch any registration that escapes the caller's transaction (a separate
-- connection, a background worker, a sequence-based version number).

SET client_min_messages = warning;
SELECT plan(162);

-- ---- data ---------------------------------------------------------------

SELECT setseed(0.17) AS seeded \gset
CREATE TABLE d AS
SELECT i AS id,
       random() AS x1,
       random() AS x2,
       (ARRAY['red', 'green', 'blue'])[1 + i % 3] AS color
FROM generate_series(1, 200) i;
ALTER TABLE d ADD COLUMN y double precision;
UPDATE d SET y = 1 + 2 * x1 - 3 * x2 + 0.1 * random();

CREATE TABLE d_text_target (x1 double precision, y text);
INSERT INTO d_text_target VALUES (1, 'a'), (2, 'b'), (3, 'c');
CREATE TABLE d_jsonb (x1 double precision, doc jsonb, y double precision);
INSERT INTO d_jsonb SELECT x1, '{}', y FROM d;
CREATE TABLE d_point (x1 double precision, pos point, y double precision);
INSERT INTO d_point SELECT x1, point(x1, x2), y FROM d;
CREATE TABLE d_empty (x1 double precision, y double precision);
CREATE TABLE d_null_target (x1 double precision, y double precision);
INSERT INTO d_null_target SELECT x1, NULL FROM d;

-- Registry row counts, to show that a failure left nothing behind.
CREATE FUNCTION pg_temp.registry_counts() RETURNS text LANGUAGE sql AS $$
    SELECT format('projects=%s models=%s deployments=%s audit_log=%s',
                  (SELECT count(*) FROM aifactory.projects),
                  (SELECT count(*) FROM aifactory.models),
                  (SELECT count(*) FROM aifactory.deployments),
                  (SELECT count(*) FROM aifactory.audit_log))
$$;

-- throws_ok on a train() call, then: the registry is unchanged.
CREATE FUNCTION pg_temp.train_fails(call text, state char(5), descr text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    before text := pg_temp.registry_counts();
BEGIN
    RETURN NEXT throws_ok(call, state, NULL, descr);
    RETURN NEXT is(pg_temp.registry_counts(), before, descr || ': nothing registered');
END
$$;

-- A project to predict with (2 numeric features, version 1 deployed), and
-- one with a text feature.
SELECT version AS p_version FROM aifactory.train('p', 'SELECT x1, x2, y FROM d', 'y', seed => 1) \gset
SELECT version AS pc_version FROM aifactory.train('pc', 'SELECT x1, color, y FROM d', 'y', seed => 1) \gset
SELECT is(:p_version, 1, 'set-up: project p trained');

-- ---- unknown project / version ------------------------------------------

SELECT throws_ok($$SELECT aifactory.predict('nope', ARRAY[1, 2]::float8[])$$, '42704', NULL,
                 'predict with an unknown project: 42704');
SELECT throws_like($$SELECT aifactory.predict('nope', ARRAY[1, 2]::float8[])$$, '%"nope"%',
                   'the error names the unknown project');
SELECT throws_ok($$SELECT aifactory.predict('nope', 1, ARRAY[1, 2]::float8[])$$, '42704', NULL,
                 'predict(project, version, ...) with an unknown project: 42704');
SELECT throws_ok($$SELECT aifactory.predict('nope', r) FROM (SELECT 1.0 AS x1) r$$, '42704', NULL,
                 'predict(project, row) with an unknown project: 42704');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('nope', 1)$$, '42704', NULL,
                 'deploy(version) of an unknown project: 42704');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('nope', 'latest')$$, '42704', NULL,
                 'deploy(strategy) of an unknown project: 42704');
SELECT throws_ok($$SELECT * FROM aifactory.rollback('nope')$$, '42704', NULL,
                 'rollback of an unknown project: 42704');
SELECT throws_ok($$SELECT aifactory.drop_model('nope', 1)$$, '42704', NULL,
                 'drop_model of an unknown project: 42704');
SELECT throws_ok($$SELECT aifactory.model_info('nope')$$, '42704', NULL,
                 'model_info of an unknown project: 42704');
SELECT throws_ok($$SELECT * FROM aifactory.coefficients('nope')$$, '42704', NULL,
                 'coefficients of an unknown project: 42704');
SELECT throws_ok($$SELECT aifactory.export_model('nope')$$, '42704', NULL,
                 'export_model of an unknown project: 42704');

SELECT throws_ok($$SELECT * FROM aifactory.deploy('p', 99)$$, '42704', NULL,
                 'deploy of an unknown version: 42704');
SELECT throws_like($$SELECT * FROM aifactory.deploy('p', 99)$$, '%version 99%',
                   'the error names the unknown version');
SELECT throws_ok($$SELECT aifactory.predict('p', 99, ARRAY[1, 2]::float8[])$$, '42704', NULL,
                 'predict with an unknown version: 42704');
SELECT throws_ok($$SELECT aifactory.model_info('p', 99)$$, '42704', NULL,
                 'model_info of an unknown version: 42704');
SELECT throws_ok($$SELECT aifactory.drop_model('p', 99)$$, '42704', NULL,
                 'drop_model of an unknown version: 42704');
SELECT throws_ok($$SELECT aifactory.export_model('p', 99)$$, '42704', NULL,
                 'export_model of an unknown version: 42704');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('p', 0)$$, '22023', NULL,
                 'deploy of version 0: 22023');
SELECT throws_ok($$SELECT aifactory.predict('p', -1, ARRAY[1, 2]::float8[])$$, '22023', NULL,
                 'predict with a negative version: 22023');

-- ---- train: arguments -----------------------------------------------------

SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'nosuch')$$, '42703',
                           'unknown target column: 42703');
SELECT throws_like($$SELECT * FROM aifactory.train('q', 'd', 'nosuch')$$, '%"nosuch"%',
                   'the error names the unknown target column');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', features => ARRAY['x1', 'nosuch'])$$,
                           '42703', 'unknown feature column: 42703');
SELECT throws_like($$SELECT * FROM aifactory.train('q', 'd', 'y', features => ARRAY['x1', 'nosuch'])$$,
                   '%"nosuch"%', 'the error names the unknown feature column');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', algorithm => 'xgboost')$$,
                           '22023', 'unknown algorithm: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', hyperparams => '{"alph": 1}')$$,
                           '22023', 'unknown hyperparameter: 22023');
SELECT throws_like($$SELECT * FROM aifactory.train('q', 'd', 'y', hyperparams => '{"alph": 1}')$$,
                   '%"alph"%', 'the error names the unknown hyperparameter');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', algorithm => 'linear', hyperparams => '{"alpha": 1}')$$,
                           '22023', 'alpha is not a hyperparameter of linear: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', algorithm => 'ridge', hyperparams => '{"alpha": "big"}')$$,
                           '22023', 'alpha given as a string: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', hyperparams => '{"intercept": 1}')$$,
                           '22023', 'intercept given as a number: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', algorithm => 'ridge', hyperparams => '{"alpha": -1}')$$,
                           '22023', 'negative alpha: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', hyperparams => '[1, 2]')$$,
                           '22023', 'hyperparams not a JSON object: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', test_size => 1)$$,
                           '22023', 'test_size 1: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', test_size => -0.1)$$,
                           '22023', 'negative test_size: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', test_size => 'NaN')$$,
                           '22023', 'test_size NaN: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train(NULL, 'd', 'y')$$,
                           '22004', 'NULL project: 22004');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', NULL, 'y')$$,
                           '22004', 'NULL source: 22004');
-- A NULL target means an unsupervised model (kmeans, pca; 'auto' clusters):
-- a supervised algorithm without one is an error.
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', NULL, 'linear')$$,
                           '22004', 'NULL target for a regression: 22004');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', NULL, 'logistic')$$,
                           '22004', 'NULL target for a classifier: 22004');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', 'kmeans')$$,
                           '22023', 'a target for clustering: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', features => ARRAY['x1', 'x1'])$$,
                           '42701', 'feature listed twice: 42701');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', features => ARRAY['x1', 'y'])$$,
                           '22023', 'target listed as a feature: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd', 'y', deploy => 'sometimes')$$,
                           '22023', 'unknown deploy strategy in train: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train(repeat('z', 64), 'd', 'y')$$,
                           '22023', 'project name of 64 characters: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('', 'd', 'y')$$,
                           '22023', 'empty project name: 22023');

-- ---- train: the source ----------------------------------------------------

SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'no_such_table', 'y')$$,
                           '42P01', 'source naming no relation: 42P01');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'no_such_schema.d', 'y')$$,
                           '42P01', 'source in an unknown schema: 42P01');
-- Neither a relation name nor a query: DESIGN.md section 5 wants the
-- offending name and a hint, as for an unknown relation.
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'DELETE FROM d', 'y')$$,
                           '42P01', 'source that is a DELETE statement: 42P01');
SELECT is((SELECT count(*) FROM d), 200::bigint, 'the DELETE source deleted nothing');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', '', 'y')$$,
                           '22023', 'empty source: 22023');

-- (with 'auto', a text target means classification; a regression refuses it)
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd_text_target', 'y', 'linear')$$,
                           '42804', 'text target for a regression: 42804');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd_jsonb', 'y')$$,
                           '42804', 'jsonb feature: 42804');
SELECT throws_like($$SELECT * FROM aifactory.train('q', 'd_jsonb', 'y')$$, '%"doc"%',
                   'the error names the jsonb column');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd_point', 'y', features => ARRAY['pos'])$$,
                           '42804', 'point feature: 42804');

SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd_empty', 'y')$$,
                           'P0002', 'empty table: P0002 no_data_found');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, y FROM d WHERE false', 'y')$$,
                           'P0002', 'query returning no rows: P0002 no_data_found');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'd_null_target', 'y')$$,
                           'P0002', 'target NULL in every row: P0002 no_data_found');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, NULL::float8 AS x2, y FROM d', 'y')$$,
                           'P0002', 'feature NULL in every row: P0002 no_data_found');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT 1.0::float8 AS x1, 2.0::float8 AS y', 'y', test_size => 0.999999, seed => 1)$$,
                           'P0002', 'no training row left after the split: P0002');

-- NaN / Infinity anywhere in the data (the last row, so the scan is well under way)
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, CASE WHEN id = 200 THEN ''NaN'' ELSE x2 END AS x2, y FROM d', 'y')$$,
                           '22000', 'NaN in a feature: 22000');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, CASE WHEN id = 200 THEN ''-Infinity'' ELSE x2 END AS x2, y FROM d', 'y')$$,
                           '22000', '-Infinity in a feature: 22000');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, x2, CASE WHEN id = 200 THEN ''Infinity'' ELSE y END AS y FROM d', 'y')$$,
                           '22000', 'Infinity in the target: 22000');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, x2, CASE WHEN id = 200 THEN ''NaN'' ELSE y END AS y FROM d', 'y')$$,
                           '22000', 'NaN in the target: 22000');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1::numeric AS x1, CASE WHEN id = 7 THEN ''NaN''::numeric ELSE x2::numeric END AS x2, y FROM d', 'y')$$,
                           '22000', 'numeric NaN in a feature: 22000');
SELECT throws_like($$SELECT * FROM aifactory.train('q', 'SELECT x1, CASE WHEN id = 200 THEN ''NaN'' ELSE x2 END AS x2, y FROM d', 'y')$$,
                   '%"x2"%NaN%', 'the error names the feature holding NaN');
-- a load large enough for its helper threads (core/prefault.c) stopped by an error in its
-- last row: a clean error, and the same session trains the same source right after
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q_large', 'SELECT (g % 97)::float8 AS a, (g % 13)::float8 AS b, CASE WHEN g = 40000 THEN ''NaN'' ELSE (g % 7)::float8 END AS c, g % 2 AS label FROM generate_series(1, 40000) g', 'label', 'logistic')$$,
                           '22000', 'NaN in the last of 40000 rows of an in-memory load: 22000');
SELECT is((SELECT version FROM aifactory.train('q_large', 'SELECT (g % 97)::float8 AS a, (g % 13)::float8 AS b, (g % 7)::float8 AS c, g % 2 AS label FROM generate_series(1, 40000) g', 'label', 'logistic')),
          1, 'the same session then loads and trains the 40000 rows');

-- ---- train: failures after the data was read ------------------------------

SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, 2 * x1 AS x2, y FROM d', 'y', seed => 1)$$,
                           '22000', 'singular design (x2 = 2 * x1): 22000');
SELECT throws_like($$SELECT * FROM aifactory.train('q', 'SELECT x1, 2 * x1 AS x2, y FROM d', 'y', seed => 1)$$,
                   '%singular%', 'the error says the design is singular');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, x2, x1 + x2 AS x3, y FROM d', 'y', seed => 1)$$,
                           '22000', 'singular design (x3 = x1 + x2): 22000');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, 3.0::float8 AS k, y FROM d', 'y', seed => 1)$$,
                           '22000', 'constant feature (collinear with the intercept): 22000');
-- Fewer rows than coefficients: 3 coefficients, 2 rows.  train.c raises
-- ERRCODE_DATA_EXCEPTION (22000) for this.
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('q', 'SELECT x1, x2, y FROM d ORDER BY id LIMIT 2', 'y', test_size => 0)$$,
                           '22000', 'fewer rows than coefficients: 22000');

-- The singular data trains with ridge.
SELECT is((SELECT algorithm FROM aifactory.train('q_ridge', 'SELECT x1, 2 * x1 AS x2, y FROM d', 'y',
                                                 algorithm => 'ridge', seed => 1)),
          'ridge', 'ridge trains on the singular design');

-- A failed train into an existing project uses up no version number.
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('p', 'SELECT x1, 2 * x1 AS x2, y FROM d', 'y', seed => 1)$$,
                           '22000', 'singular design in existing project p');
SELECT is((SELECT version FROM aifactory.train('p', 'SELECT x1, x2, y FROM d', 'y', seed => 2, deploy => 'none')),
          2, 'the next train into p after failures is version 2');
SELECT is((SELECT count(*) FROM aifactory.projects WHERE name = 'q'), 0::bigint,
          'no project q after all the failed trains');
SELECT throws_ok($$SELECT aifactory.predict('q', ARRAY[1, 2]::float8[])$$, '42704', NULL,
                 'project q does not exist for predict either');

-- ---- predict --------------------------------------------------------------

SELECT throws_ok($$SELECT aifactory.predict('p', ARRAY[1, 2, 3]::float8[])$$, '2202E', NULL,
                 'predict with 3 features for 2: 2202E');
SELECT throws_ok($$SELECT aifactory.predict('p', ARRAY[1]::float8[])$$, '2202E', NULL,
                 'predict with 1 feature for 2: 2202E');
SELECT throws_ok($$SELECT aifactory.predict('p', ARRAY[]::float8[])$$, '2202E', NULL,
                 'predict with an empty array: 2202E');
SELECT throws_ok($$SELECT aifactory.predict('p', ARRAY[[1, 2]]::float8[])$$, '2202E', NULL,
                 'predict with a 2-D array: 2202E');
SELECT throws_ok($$SELECT aifactory.predict('p', 1, ARRAY[1, 2, 3]::float8[])$$, '2202E', NULL,
                 'predict(version) with the wrong length: 2202E');
SELECT throws_ok($$SELECT aifactory.predict('p', ARRAY['NaN', 2]::float8[])$$, '22000', NULL,
                 'predict with NaN: 22000');
SELECT throws_ok($$SELECT aifactory.predict('p', ARRAY[1, '-Infinity']::float8[])$$, '22000', NULL,
                 'predict with -Infinity: 22000');
SELECT throws_ok($$SELECT aifactory.predict('p', r) FROM (SELECT 'NaN'::float8 AS x1, 1.0::float8 AS x2) r$$,
                 '22000', NULL, 'predict(row) with NaN: 22000');
SELECT throws_ok($$SELECT aifactory.predict('pc', ARRAY[1, 2]::float8[])$$, '42804', NULL,
                 'predict array form on a model with a text feature: 42804');
SELECT throws_ok($$SELECT aifactory.predict('p', r) FROM (SELECT 1.0::float8 AS x1, 2.0::float8 AS x3) r$$,
                 '42703', NULL, 'predict(row) missing a feature column: 42703');
SELECT throws_like($$SELECT aifactory.predict('p', r) FROM (SELECT 1.0::float8 AS x1, 2.0::float8 AS x3) r$$,
                   '%"x2"%', 'the error names the missing column');
SELECT throws_ok($$SELECT aifactory.predict('p', r) FROM (SELECT 1.0::float8 AS x1, 'abc'::text AS x2) r$$,
                 '42804', NULL, 'predict(row) with a text column for a numeric feature: 42804');
SELECT throws_ok($$SELECT aifactory.predict(repeat('z', 64), ARRAY[1, 2]::float8[])$$, '22023', NULL,
                 'predict with a 64-character project name: 22023');

-- ---- deploy / rollback / drop ---------------------------------------------

SELECT throws_ok($$SELECT * FROM aifactory.deploy('p', 'sometimes')$$, '22023', NULL,
                 'unknown deploy strategy: 22023');
-- p: version 1 deployed, version 2 not.
SELECT throws_ok($$SELECT aifactory.drop_model('p', 1)$$, '55006', NULL,
                 'drop of the deployed version: 55006 object_in_use');
SELECT lives_ok($$SELECT aifactory.drop_model('p', 2)$$, 'drop of an undeployed version works');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('p', 2)$$, '55000', NULL,
                 'deploy of a dropped version: 55000');
SELECT throws_ok($$SELECT aifactory.drop_model('p', 2)$$, '55000', NULL,
                 'drop of a dropped version: 55000');
SELECT throws_ok($$SELECT aifactory.predict('p', 2, ARRAY[1, 2]::float8[])$$, '55000', NULL,
                 'predict with a dropped version: 55000');
SELECT throws_ok($$SELECT aifactory.export_model('p', 2)$$, '55000', NULL,
                 'export of a dropped version: 55000');
SELECT throws_ok($$SELECT * FROM aifactory.rollback('p')$$, '55000', NULL,
                 'rollback with one deployment in the history: 55000');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('p', 'rollback')$$, '55000', NULL,
                 'deploy(p, ''rollback'') with nothing to roll back to: 55000');
SELECT is((SELECT version FROM aifactory.train('p_none', 'SELECT x1, x2, y FROM d', 'y', seed => 1, deploy => 'none')),
          1, 'set-up: project p_none with nothing deployed');
SELECT throws_ok($$SELECT * FROM aifactory.rollback('p_none')$$, '55000', NULL,
                 'rollback of a project never deployed: 55000');
SELECT throws_ok($$SELECT aifactory.predict('p_none', ARRAY[1, 2]::float8[])$$, '42704', NULL,
                 'predict on a project with nothing deployed: 42704');

-- ---- import_model ---------------------------------------------------------

SELECT throws_ok($$SELECT aifactory.import_model('imp', decode(repeat(md5('aifactory'), 8), 'hex'))$$,
                 'XX001', NULL, 'import of 128 random bytes: XX001');
SELECT throws_ok($$SELECT aifactory.import_model('imp', '\x'::bytea)$$,
                 'XX001', NULL, 'import of no bytes: XX001');
SELECT throws_ok($$SELECT aifactory.import_model('imp', 'AIFX'::bytea || decode(repeat(md5('x'), 4), 'hex'))$$,
                 'XX001', NULL, 'import of random bytes behind the right magic: XX001');

SELECT aifactory.export_model('p', 1) AS export \gset
SELECT is(aifactory.import_model('imp_ok', :'export'::bytea), 1, 'the unchanged export imports');

CREATE FUNCTION pg_temp.flip(b bytea, pos int) RETURNS bytea LANGUAGE sql AS $$
    SELECT set_byte(b, pos, get_byte(b, pos) # 1)
$$;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, pg_temp.flip(%L::bytea, %s))', 'imp', :'export', pos),
                 'XX001', NULL, format('import of an export with byte %s of %s flipped: XX001', pos, len))
FROM (SELECT length(:'export'::bytea) AS len) l,
     LATERAL (VALUES (0), (5), (20), (len / 2), (len - 40), (len - 5), (len - 1)) AS v(pos)
ORDER BY pos;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, substring(%L::bytea FROM 1 FOR %s))', 'imp', :'export',
                        length(:'export'::bytea) - 1),
                 'XX001', NULL, 'import of an export missing its last byte: XX001');
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea || ''\x00''::bytea)', 'imp', :'export'),
                 'XX001', NULL, 'import of an export with a byte appended: XX001');
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', repeat('z', 64), :'export'),
                 '22023', NULL, 'import into a 64-character project name: 22023');
SELECT is((SELECT count(*) FROM aifactory.projects WHERE name = 'imp'), 0::bigint,
          'no project imp after the failed imports');

SELECT * FROM finish();

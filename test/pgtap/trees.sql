-- gbdt and random_forest: known answers, the error paths with their
-- SQLSTATEs (each failing train() followed by a "nothing registered"
-- check) and the memory limit.
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.

SET client_min_messages = warning;
SELECT plan(51);

-- ---- data ---------------------------------------------------------------

SELECT setseed(0.23) AS seeded \gset
-- a planted interaction: y = 10 a b, c is noise; the best additive model of a b
-- explains 6/7 of its variance, so stumps stay below r2 0.86 and depth 2 gets it
CREATE TABLE inter AS
SELECT i, a, b, c, 10 * a * b + 0.05 * random() AS y
FROM (SELECT i, random() AS a, random() AS b, random() AS c FROM generate_series(1, 4000) i) s;
CREATE TABLE three AS
SELECT i, x, (ARRAY['a', 'b', 'c'])[1 + floor(x * 3)::int] AS label
FROM (SELECT i, random() AS x FROM generate_series(1, 600) i) s;
CREATE TABLE one_class AS SELECT random() AS x, 'only' AS label FROM generate_series(1, 50);
CREATE TABLE tiny AS SELECT i::float8 AS x, (i % 2)::float8 AS y FROM generate_series(1, 4) i;
CREATE TABLE big AS
SELECT random() AS a, random() AS b, random() AS c, random() AS d, random() AS e,
       random() AS f, random() AS g, random() AS h, (random() < 0.5)::int AS y
FROM generate_series(1, 200000);

CREATE FUNCTION pg_temp.registry_counts() RETURNS text LANGUAGE sql AS $$
    SELECT format('projects=%s models=%s deployments=%s audit_log=%s',
                  (SELECT count(*) FROM aifactory.projects),
                  (SELECT count(*) FROM aifactory.models),
                  (SELECT count(*) FROM aifactory.deployments),
                  (SELECT count(*) FROM aifactory.audit_log))
$$;
CREATE FUNCTION pg_temp.train_fails(call text, state char(5), descr text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    before text := pg_temp.registry_counts();
BEGIN
    RETURN NEXT throws_ok(call, state, NULL, descr);
    RETURN NEXT is(pg_temp.registry_counts(), before, descr || ': nothing registered');
END
$$;

-- ---- known answers --------------------------------------------------------

-- the interaction: depth 2 finds it, and the noise column earns (almost) no gain
SELECT ok((metrics->>'r2')::float8 > 0.97, 'gbdt depth 2 learns the planted a*b interaction')
FROM aifactory.train('inter', 'SELECT a, b, c, y FROM inter', 'y', 'gbdt',
                     '{"max_depth": 2, "n_estimators": 60}', seed => 1);
SELECT is((SELECT array_agg(feature ORDER BY feature) FROM (SELECT feature FROM aifactory.feature_importance('inter') LIMIT 2) f),
          ARRAY['a', 'b'], 'the two interacting features have the largest gain');
SELECT ok((SELECT gain FROM aifactory.feature_importance('inter') WHERE feature = 'c') <
          0.01 * (SELECT sum(gain) FROM aifactory.feature_importance('inter')),
          'the noise feature has under 1 % of the gain');
SELECT ok((metrics->>'r2')::float8 < 0.87, 'depth-1 stumps (an additive model) cannot learn the interaction')
FROM aifactory.train('inter_stumps', 'SELECT a, b, c, y FROM inter', 'y', 'gbdt',
                     '{"max_depth": 1, "n_estimators": 60}', seed => 1);
SELECT ok((metrics->>'r2')::float8 > 0.97, 'random_forest learns the interaction too')
FROM aifactory.train('inter_rf', 'SELECT a, b, c, y FROM inter', 'y', 'random_forest',
                     '{"n_estimators": 20, "max_features": 1.0}', seed => 1);

-- SHAP additivity on many rows, every algorithm and task
SELECT is((SELECT count(*) FROM (SELECT i, sum(e.contribution) AS s, aifactory.predict('inter', t) AS p
                                 FROM (SELECT * FROM inter ORDER BY i LIMIT 50) t,
                                      aifactory.explain('inter', t) e GROUP BY i, t.*) q
           WHERE abs(s - p) > 1e-9 * greatest(1, abs(p))), 0::bigint,
          'gbdt regression: contributions + expected value = prediction on 50 rows');
SELECT is((SELECT count(*) FROM (SELECT i, sum(e.contribution) AS s, aifactory.predict('inter_rf', t) AS p
                                 FROM (SELECT * FROM inter ORDER BY i LIMIT 50) t,
                                      aifactory.explain('inter_rf', t) e GROUP BY i, t.*) q
           WHERE abs(s - p) > 1e-9 * greatest(1, abs(p))), 0::bigint,
          'random_forest regression: contributions + expected value = prediction on 50 rows');
SELECT ok(NOT (metrics->>'accuracy')::float8 < 0.95, 'three classes from one feature')
FROM aifactory.train('three', 'SELECT x, label FROM three', 'label', 'gbdt', seed => 2);
SELECT is((SELECT count(*) FROM (SELECT t.i, e.class, sum(e.contribution) AS s
                                 FROM (SELECT * FROM three ORDER BY i LIMIT 20) t,
                                      aifactory.explain('three', t) e GROUP BY t.i, e.class) q),
          60::bigint, 'multiclass explain: a set of contributions per class and row');

-- deterministic with a seed, also with row and feature sampling
SELECT is((SELECT metrics->>'r2' FROM aifactory.train('seeded', 'SELECT a, b, c, y FROM inter', 'y', 'gbdt',
                     '{"subsample": 0.5, "colsample_bytree": 0.67, "n_estimators": 10}', seed => 9, deploy => 'none')),
          (SELECT metrics->>'r2' FROM aifactory.train('seeded', 'SELECT a, b, c, y FROM inter', 'y', 'gbdt',
                     '{"subsample": 0.5, "colsample_bytree": 0.67, "n_estimators": 10}', seed => 9, deploy => 'none')),
          'gbdt with subsample and colsample_bytree: the same seed gives the same model');
SELECT is((SELECT count(*) FROM inter t
           WHERE aifactory.predict('seeded', 1, t) IS DISTINCT FROM aifactory.predict('seeded', 2, t)), 0::bigint,
          'the same seed: the same predictions on every row');
SELECT ok((SELECT metrics->>'r2' FROM aifactory.train('seeded', 'SELECT a, b, c, y FROM inter', 'y', 'gbdt',
                     '{"subsample": 0.5, "colsample_bytree": 0.67, "n_estimators": 10}', seed => 10, deploy => 'none'))
          IS DISTINCT FROM (SELECT metrics->>'r2' FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
                            WHERE p.name = 'seeded' AND m.version = 1),
          'another seed: another model');

-- ---- errors -------------------------------------------------------------

SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'gbdt', '{"max_depht": 3}')$$,
                           '22023', 'gbdt with a misspelt hyperparameter: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'gbdt', '{"max_depth": 0}')$$,
                           '22023', 'gbdt with max_depth 0: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'gbdt', '{"learning_rate": 0}')$$,
                           '22023', 'gbdt with learning_rate 0: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'gbdt', '{"subsample": 1.5}')$$,
                           '22023', 'gbdt with subsample 1.5: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'gbdt', '{"max_bin": 1}')$$,
                           '22023', 'gbdt with max_bin 1: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'gbdt', '{"objective": "rank:pairwise"}')$$,
                           '22023', 'gbdt with an unknown objective: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'three', 'label', 'gbdt', '{"objective": "binary:logistic"}')$$,
                           '22023', 'binary:logistic on three classes: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'three', 'label', 'gbdt', '{"objective": "reg:squarederror"}')$$,
                           '42804', 'reg:squarederror on a text target: 42804');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'one_class', 'label', 'gbdt')$$,
                           '22000', 'gbdt on a single class: 22000');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'random_forest', '{"max_features": "half"}')$$,
                           '22023', 'random_forest with an unknown max_features: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'random_forest', '{"max_features": 2.5}')$$,
                           '22023', 'random_forest with a fractional max_features above 1: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'random_forest', '{"criterion": "entropy"}')$$,
                           '22023', 'random_forest with an unsupported criterion: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'random_forest', '{"learning_rate": 0.1}')$$,
                           '22023', 'random_forest with a gbdt-only hyperparameter: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'inter', 'y', 'linear', '{"impute": "none"}')$$,
                           '22023', 'impute none on a linear model: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'SELECT x, y FROM tiny LIMIT 1', 'y', 'gbdt', '{"early_stopping_rounds": 3}', test_size => 0)$$,
                           '22023', 'early stopping with too few rows for validation: 22023');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('inter', 'three', 'label', 'gbdt')$$,
                           '42804', 'a text target into a regression project: 42804');
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('inter', 'three', 'label', 'gbdt', '{"objective": "multi:softprob"}')$$,
                           '22023', 'multi:softprob into a regression project: 22023');
SELECT throws_ok($$SELECT * FROM aifactory.explain('inter', ARRAY[0.5, 0.5]::float8[])$$, '2202E', NULL,
                 'explain with a feature array of the wrong length: 2202E');
SELECT throws_ok($$SELECT * FROM aifactory.explain('inter', ARRAY[0.5, 'NaN', 0.5]::float8[])$$, '22000', NULL,
                 'explain with NaN: 22000');

-- ---- memory (cancellation: test/system/cancel.sh) --------------------------

SET aifactory.train_memory = '1MB';
SELECT pg_temp.train_fails($$SELECT * FROM aifactory.train('e', 'big', 'y', 'gbdt')$$,
                           '54000', 'gbdt past aifactory.train_memory: 54000');
SELECT throws_like($$SELECT * FROM aifactory.train('e', 'big', 'y', 'gbdt')$$,
                   '%aifactory.train_memory%', 'the error names the setting');
RESET aifactory.train_memory;

SELECT * FROM finish();

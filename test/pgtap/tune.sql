-- tune(): hyperparameter search by k-fold cross-validation, trials in
-- background workers.  Grid enumerates exactly its product; random and
-- tpe are reproducible with a seed; halving prunes; the cross-validation
-- scores are right on known cases; a failed trial is recorded and the
-- search goes on; the best configuration is registered like train(); bad
-- input is a clean error that registers nothing.
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.

SET client_min_messages = warning;
SELECT plan(62);

-- ---- data ---------------------------------------------------------------

SELECT setseed(0.29) AS seeded \gset
CREATE TABLE cls AS
SELECT i, a, b, c, ((a + b * b + 0.3 * random()) > 1.0)::int AS y
FROM (SELECT i, random() AS a, random() AS b, random() AS c FROM generate_series(1, 3000) i) s;
-- an exact line: every fold's r2 is 1
CREATE TABLE line AS SELECT i::float8 / 100 AS x, 3 * (i::float8 / 100) - 2 AS y FROM generate_series(1, 300) i;
-- a target that no feature explains: every fold's r2 is at most ~0
CREATE TABLE noise AS SELECT random() AS x, random() AS y FROM generate_series(1, 600) i;
-- the classes as booleans: classification whatever the algorithm
CREATE VIEW cls_b AS SELECT a, b, c, y = 1 AS y FROM cls;

CREATE FUNCTION pg_temp.registry_counts() RETURNS text LANGUAGE sql AS $$
    SELECT format('projects=%s models=%s deployments=%s audit_log=%s',
                  (SELECT count(*) FROM aifactory.projects),
                  (SELECT count(*) FROM aifactory.models),
                  (SELECT count(*) FROM aifactory.deployments),
                  (SELECT count(*) FROM aifactory.audit_log))
$$;
CREATE FUNCTION pg_temp.tune_fails(call text, state char(5), descr text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    before text := pg_temp.registry_counts();
BEGIN
    RETURN NEXT throws_ok(call, state, NULL, descr);
    RETURN NEXT is(pg_temp.registry_counts(), before, descr || ': nothing registered');
END
$$;
-- the trials of the latest search
CREATE FUNCTION pg_temp.last_search() RETURNS bigint LANGUAGE sql AS $$
    SELECT max(search_id) FROM aifactory.trials
$$;

-- ---- grid ---------------------------------------------------------------

CREATE TEMP TABLE r1 AS
SELECT * FROM aifactory.tune('g', 'SELECT a, b, c, y FROM cls', 'y', 'gbdt',
                             '{"max_depth": [2, 3, 4], "min_child_weight": [1, 10]}', 'grid',
                             folds => 3, seed => 1,
                             hyperparams => '{"objective": "binary:logistic", "n_estimators": 15}');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search()), 6::bigint,
          'grid: one trial per point of the 3 x 2 product');
SELECT is((SELECT count(DISTINCT params) FROM aifactory.trials WHERE search_id = pg_temp.last_search()), 6::bigint,
          'grid: every point once');
SELECT is((SELECT array_agg(DISTINCT (params->>'max_depth')::int ORDER BY (params->>'max_depth')::int)
           FROM aifactory.trials WHERE search_id = pg_temp.last_search()), ARRAY[2, 3, 4],
          'grid: the listed values of max_depth');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search() AND state = 'complete'),
          6::bigint, 'grid: every trial complete');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search()
           AND array_length(fold_scores, 1) = 3), 6::bigint, 'three fold scores per trial');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search()
           AND abs(mean_score - (SELECT avg(s) FROM unnest(fold_scores) s)) < 1e-12), 6::bigint,
          'mean_score is the mean of the fold scores');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search()
           AND abs(std_score - (SELECT stddev_pop(s) FROM unnest(fold_scores) s)) < 1e-9), 6::bigint,
          'std_score is their population standard deviation');
SELECT is((SELECT metrics->>'cv_score' FROM r1)::float8,
          (SELECT max(mean_score) FROM aifactory.trials WHERE search_id = pg_temp.last_search()),
          'the registered model carries the best mean score (f1, the default for classification)');
SELECT is((SELECT best_params->>'max_depth' FROM r1),
          (SELECT params->>'max_depth' FROM aifactory.trials WHERE search_id = pg_temp.last_search()
           ORDER BY mean_score DESC, trial LIMIT 1),
          'best_params is the best trial''s');
SELECT is(aifactory.model_info('g')->'hyperparams'->>'max_depth', (SELECT best_params->>'max_depth' FROM r1),
          'the registered model was fitted with the best max_depth');
SELECT is(aifactory.model_info('g')->'hyperparams'->>'n_estimators', '15',
          'and with the fixed hyperparams');
SELECT is((SELECT deployed FROM r1), true, 'the first model of the project is deployed');
SELECT ok((SELECT (metrics->>'accuracy')::float8 > 0.85 FROM r1), 'the refitted model is measured on the test split');
SELECT is((SELECT action FROM aifactory.audit_log ORDER BY id DESC OFFSET 1 LIMIT 1), 'tune',
          'the audit log records the tune');

-- ---- known cross-validation scores ------------------------------------------

SELECT is((SELECT round((metrics->>'cv_score')::numeric, 9) FROM aifactory.tune('line', 'line', 'y', 'ridge',
           '{"alpha": [0, 0.000001]}', 'grid', folds => 4, workers => 1, seed => 2, test_size => 0)),
          1.000000000, 'a model that fits exactly scores r2 = 1 on every fold');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search()
           AND (SELECT bool_and(abs(s - 1) < 1e-9) FROM unnest(fold_scores) s)
           AND array_length(fold_scores, 1) = 4), 2::bigint,
          'each of the four folds'' r2 is 1 for both alphas');
SELECT ok((metrics->>'cv_score')::float8 < 0.01, 'a target no feature explains scores r2 <= ~0 on held-out folds')
FROM aifactory.tune('noise', 'noise', 'y', 'linear', '{"intercept": [true]}', 'grid', folds => 5, seed => 3,
                    test_size => 0);
SELECT ok((SELECT max(s) < 0.05 FROM aifactory.trials, unnest(fold_scores) s WHERE search_id = pg_temp.last_search()),
          'on every fold');
SELECT is((SELECT round((metrics->>'cv_score')::numeric, 6) FROM aifactory.tune('line_mae', 'line', 'y', 'linear',
           '{"intercept": [true]}', 'grid', folds => 3, metric => 'mae', seed => 2, test_size => 0)),
          0.000000, 'a minimized metric: mae 0 for an exact fit');

-- ---- random and tpe: reproducible with a seed ---------------------------------
-- (trial rows are committed by the workers as they go: a statement sees
-- them when it starts after tune() has returned, not inside tune's own)

CREATE FUNCTION pg_temp.search(how text, seeded int) RETURNS bigint LANGUAGE sql AS $$
    SELECT (metrics->'tune'->>'search_id')::bigint
    FROM aifactory.tune('rt', 'SELECT a, b, c, y FROM cls', 'y', 'gbdt',
                        '{"max_depth": {"int": [1, 6]}, "learning_rate": {"log_uniform": [0.01, 0.5]}}',
                        how, 14, 3, seed => seeded, deploy => 'none',
                        hyperparams => '{"objective": "binary:logistic", "n_estimators": 8}')
$$;
CREATE FUNCTION pg_temp.params_of(search bigint) RETURNS jsonb[] LANGUAGE sql AS $$
    SELECT array_agg(params ORDER BY trial) FROM aifactory.trials WHERE search_id = search
$$;
CREATE TEMP TABLE searches AS
SELECT pg_temp.search('random', 5) AS random5a, pg_temp.search('random', 5) AS random5b,
       pg_temp.search('random', 6) AS random6, pg_temp.search('tpe', 5) AS tpe5a,
       pg_temp.search('tpe', 5) AS tpe5b, pg_temp.search('tpe', 7) AS tpe7,
       pg_temp.search('random', 7) AS random7;
SELECT is(pg_temp.params_of(random5a), pg_temp.params_of(random5b),
          'random: the same seed draws the same trials') FROM searches;
SELECT isnt(pg_temp.params_of(random5a), pg_temp.params_of(random6),
            'random: another seed draws others') FROM searches;
SELECT is(array_length(pg_temp.params_of(random5a), 1), 14, 'random: fourteen trials') FROM searches;
SELECT is(pg_temp.params_of(tpe5a), pg_temp.params_of(tpe5b),
          'tpe: the same seed proposes the same trials') FROM searches;
SELECT is((pg_temp.params_of(tpe7))[1:10], (pg_temp.params_of(random7))[1:10],
          'tpe: its 10 start-up trials are random search''s') FROM searches;
-- trial k is proposed from trials 1 .. k - 2 (two in flight): 13 and 14 by TPE
SELECT isnt((pg_temp.params_of(tpe7))[13:14], (pg_temp.params_of(random7))[13:14],
            'tpe: then it proposes its own') FROM searches;
SELECT ok((SELECT bool_and((p->>'max_depth')::int BETWEEN 1 AND 6 AND (p->>'learning_rate')::float8 BETWEEN 0.01 AND 0.5)
           FROM unnest(pg_temp.params_of(tpe7)) p), 'tpe: every trial inside the space') FROM searches;

-- ---- halving ----------------------------------------------------------------

CREATE TEMP TABLE rh AS
SELECT * FROM aifactory.tune('h', 'SELECT a, b, c, y FROM cls', 'y', 'gbdt',
                             '{"max_depth": {"int": [1, 6]}, "learning_rate": {"log_uniform": [0.01, 0.5]}}',
                             'halving', 9, 3, seed => 4,
                             hyperparams => '{"objective": "binary:logistic", "n_estimators": 27}');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search()), 9::bigint,
          'halving: nine candidates');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search() AND state = 'pruned'),
          8::bigint, 'halving: 9 -> 3 -> 1, eight pruned');
SELECT is((SELECT array_agg(DISTINCT resource ORDER BY resource) FROM aifactory.trials WHERE search_id = pg_temp.last_search()),
          ARRAY[3, 9, 27], 'halving: rungs of 3, 9 and 27 trees');
SELECT is((SELECT count(*) FROM aifactory.trials WHERE search_id = pg_temp.last_search() AND rung = 2 AND state = 'complete'),
          1::bigint, 'halving: one candidate reaches the last rung');
SELECT is((SELECT rung FROM aifactory.trials WHERE search_id = pg_temp.last_search()
           AND (params->>'max_depth') = (SELECT best_params->>'max_depth' FROM rh)
           AND round((params->>'learning_rate')::numeric, 12) = round((SELECT best_params->>'learning_rate' FROM rh)::numeric, 12)),
          2, 'halving: the winner is the last rung''s');
SELECT is(aifactory.model_info('h')->'hyperparams'->>'n_estimators', '27',
          'halving: the winner is refitted with the full resource');

-- ---- failures, workers ----------------------------------------------------------

-- max_depth 0 is out of range: that trial fails, the search goes on
CREATE TEMP TABLE rf AS
SELECT * FROM aifactory.tune('f', 'SELECT a, b, c, y FROM cls', 'y', 'gbdt', '{"max_depth": [0, 3]}', 'grid',
                             folds => 3, seed => 5,
                             hyperparams => '{"objective": "binary:logistic", "n_estimators": 5}');
SELECT is((SELECT state FROM aifactory.trials WHERE search_id = pg_temp.last_search() AND params->>'max_depth' = '0'),
          'failed', 'a trial with an invalid value is recorded as failed');
SELECT ok((SELECT error FROM aifactory.trials WHERE search_id = pg_temp.last_search() AND params->>'max_depth' = '0')
          LIKE '%max_depth%', 'with its error');
SELECT is((SELECT best_params->>'max_depth' FROM rf), '3', 'and the search went on to the valid trial');
SELECT is((SELECT (metrics->'tune'->>'workers')::int FROM aifactory.tune('w0', 'SELECT a, b, c, y FROM cls', 'y', 'logistic',
           '{"C": [0.1, 1]}', 'grid', folds => 3, workers => 0, seed => 6)), 0,
          'workers => 0 runs the trials in the session');
SELECT is((SELECT count(DISTINCT worker) FROM aifactory.trials WHERE search_id = pg_temp.last_search()), 1::bigint,
          'all in one process');
SELECT ok((SELECT (metrics->'tune'->>'workers')::int FROM aifactory.tune('w2', 'SELECT a, b, c, y FROM cls', 'y', 'logistic',
           '{"C": {"log_uniform": [0.01, 10]}}', 'random', 6, 3, workers => 2, seed => 6)) BETWEEN 1 AND 2,
          'workers => 2 starts background workers');
SELECT ok((SELECT bool_and(worker <> pg_backend_pid()) FROM aifactory.trials WHERE search_id = pg_temp.last_search()),
          'which run the trials, not this session');

-- ---- errors ---------------------------------------------------------------------

SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', '{"max_depht": [3]}')$$,
                          '22023', 'an unknown hyperparameter in the space: 22023');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', '{"max_depth": {"between": [1, 3]}}')$$,
                          '22023', 'a malformed range: 22023');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', '{"max_depth": []}')$$,
                          '22023', 'an empty list: 22023');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', '{"learning_rate": {"uniform": [0.1, 0.3]}}', 'grid')$$,
                          '22023', 'a grid over a continuous range: 22023');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', '{"max_depth": [3]}', 'bayes')$$,
                          '22023', 'an unknown strategy: 22023');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', '{"max_depth": [3]}', folds => 1)$$,
                          '22023', 'one fold: 22023');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', '{"max_depth": [3]}', metric => 'r2')$$,
                          '22023', 'a regression metric for a classifier: 22023');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'naive_bayes', '{"var_smoothing": [1e-9, 1e-6]}', 'halving')$$,
                          '0A000', 'halving without a resource: 0A000');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', '{"n_estimators": [10, 20]}', 'halving')$$,
                          '22023', 'halving over its own resource: 22023');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'SELECT a, b FROM cls', NULL, 'kmeans', '{"n_clusters": [2, 3]}')$$,
                          '0A000', 'kmeans: 0A000');
SELECT pg_temp.tune_fails($$SELECT * FROM aifactory.tune('e', 'cls_b', 'y', 'gbdt', NULL)$$,
                          '22004', 'a NULL search space: 22004');

-- a source large enough that tune() hands its loaded rows back to the kernel right after
-- building the dataset (core/prefault.c): the final fit reads only the dataset, so it is
-- the model train() fits with the winning hyperparameters, to the last digit
SELECT is((SELECT metrics->>'log_loss' FROM aifactory.tune('big_t',
               'SELECT (g % 97)::float8 AS a, (g % 13)::float8 AS b, ((g * 7) % 31)::float8 AS c, ((g % 97) + (g % 13) + ((g * 7) % 31) > 70)::int AS label FROM generate_series(1, 30000) g',
               'label', 'logistic', '{"C": [0.5]}', 'grid', folds => 2, seed => 1)),
          (SELECT metrics->>'log_loss' FROM aifactory.train('big_tr',
               'SELECT (g % 97)::float8 AS a, (g % 13)::float8 AS b, ((g * 7) % 31)::float8 AS c, ((g % 97) + (g % 13) + ((g * 7) % 31) > 70)::int AS label FROM generate_series(1, 30000) g',
               'label', 'logistic', '{"C": 0.5}', seed => 1)),
          'tune() on 30000 loaded rows: the final model is train()''s with the winning C');

SELECT * FROM finish();

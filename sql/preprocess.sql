-- Elastic net, and the preprocessing every algorithm shares: imputation
-- strategies and standardization.
SELECT setseed(0.2);
CREATE TABLE sparse AS
SELECT x1, x2, x3, x4, x5, 3 * x1 - 2 * x2 + 0.01 * (random() - 0.5) AS y
FROM (SELECT random() AS x1, random() AS x2, random() AS x3, random() AS x4, random() AS x5
      FROM generate_series(1, 400)) s;

-- lasso (l1_ratio = 1): the irrelevant features come out exactly zero
SELECT version, (metrics->>'r2')::float8 > 0.9 AS fits, metrics->'nonzero_coefficients' AS nonzero
FROM aifactory.train('lasso', 'sparse', 'y', 'elastic_net', '{"alpha": 0.01, "l1_ratio": 1}', seed => 1);
SELECT feature, estimate = 0 AS zero, sign(estimate) AS sign FROM aifactory.coefficients('lasso');
-- elastic net's defaults are scikit-learn's
SELECT aifactory.model_info('lasso')->'hyperparams' AS hyperparams;
-- a strong penalty zeroes everything
SELECT version, metrics->'nonzero_coefficients' AS nonzero
FROM aifactory.train('lasso', 'sparse', 'y', 'elastic_net', '{"alpha": 100}', seed => 1, deploy => 'none');

-- imputation: mean (one pass), median and most_frequent (in memory), error
CREATE TABLE gaps (x float8, y float8);
INSERT INTO gaps SELECT g, 2 * g FROM generate_series(1, 9) g;
INSERT INTO gaps VALUES (100, 200), (100, 200), (NULL, 20);
SELECT version FROM aifactory.train('gaps_mean', 'gaps', 'y', 'linear', test_size => 0);
SELECT version FROM aifactory.train('gaps_median', 'gaps', 'y', 'linear', '{"impute": "median"}', test_size => 0);
SELECT version FROM aifactory.train('gaps_most_frequent', 'gaps', 'y', 'linear', '{"impute": "most_frequent"}', test_size => 0);
SELECT strategy, (SELECT round((f->>'impute')::numeric, 6) FROM jsonb_array_elements(aifactory.model_info('gaps_' || strategy)->'features') f) AS impute
FROM unnest(ARRAY['mean', 'median', 'most_frequent']) strategy;
-- a NULL at prediction takes the same value
SELECT round(aifactory.predict('gaps_median', ARRAY[NULL]::float8[])::numeric, 6)
     = round(aifactory.predict('gaps_median', ARRAY[(SELECT (f->>'impute')::float8 FROM jsonb_array_elements(aifactory.model_info('gaps_median')->'features') f)])::numeric, 6)
       AS same_as_median;
SELECT * FROM aifactory.train('gaps_error', 'gaps', 'y', 'linear', '{"impute": "error"}', test_size => 0);
SELECT * FROM aifactory.train('gaps_bad', 'gaps', 'y', 'linear', '{"impute": "zero"}');
-- a model trained with impute "error" refuses a NULL at prediction too
SELECT version FROM aifactory.train('gaps_strict', 'SELECT x, y FROM gaps WHERE x IS NOT NULL', 'y', 'linear',
                                    '{"impute": "error"}', test_size => 0);
SELECT aifactory.predict('gaps_strict', ARRAY[NULL]::float8[]);
SELECT round(aifactory.predict('gaps_strict', ARRAY[3]::float8[])::numeric, 6) AS present;
-- without an intercept, standardization only scales: no hidden constant term
CREATE TABLE lin AS SELECT x, 5 + 2 * x AS y FROM (SELECT 10 + g * 0.1 AS x FROM generate_series(1, 100) g) s;
SELECT version FROM aifactory.train('en_noint', 'lin', 'y', 'elastic_net', '{"alpha": 0.001, "intercept": false}', test_size => 0);
SELECT aifactory.predict('en_noint', ARRAY[0]::float8[]) AS at_zero,
       (SELECT count(*) FROM aifactory.coefficients('en_noint')) AS terms;
DROP TABLE lin;
-- ridge and elastic net standardize by default (scikit-learn's StandardScaler semantics)
SELECT aifactory.model_info('lasso')->'hyperparams'->'standardize' AS standardize;
-- unknown and ill-typed hyperparameters are errors
SELECT * FROM aifactory.train('x', 'sparse', 'y', 'elastic_net', '{"C": 1}');
SELECT * FROM aifactory.train('x', 'sparse', 'y', 'elastic_net', '{"l1_ratio": 2}');
SELECT * FROM aifactory.train('x', 'sparse', 'y', 'elastic_net', '{"max_iter": 1.5}');

-- the memory budget: a clean error naming the setting
SET aifactory.train_memory = '1MB';
CREATE TABLE wide AS SELECT g::float8 AS a, g::float8 * 2 AS b, (g % 7)::float8 AS y FROM generate_series(1, 20000) g;
SELECT * FROM aifactory.train('wide', 'wide', 'y', 'elastic_net', seed => 1);
RESET aifactory.train_memory;
SELECT version FROM aifactory.train('wide', 'wide', 'y', 'elastic_net', seed => 1);

DROP TABLE sparse, gaps, wide;

-- Training linear and ridge models from tables, views and queries.
SELECT setseed(0.5);
CREATE TABLE houses AS
SELECT i AS id,
       round((50 + random() * 200)::numeric, 1)::float8 AS sqft,
       (1 + (i % 5))::int AS rooms,
       (ARRAY['north', 'south', 'east'])[1 + (i % 3)] AS area,
       (i % 4 = 0) AS garage
FROM generate_series(1, 400) i;
ALTER TABLE houses ADD COLUMN price float8;
UPDATE houses SET price = 20 + 3 * sqft + 10 * rooms
    + CASE area WHEN 'south' THEN 15 WHEN 'east' THEN -5 ELSE 0 END
    + CASE WHEN garage THEN 7 ELSE 0 END
    + (random() - 0.5);

-- every column but the target (and here the id) is a feature; text and
-- bool become one-hot columns with the first level as the reference
SELECT project, version, algorithm, deployed,
       round((metrics->>'r2')::numeric, 4) AS r2,
       (metrics->>'train_rows')::int + (metrics->>'test_rows')::int AS rows,
       metrics->>'evaluated_on' AS evaluated_on
FROM aifactory.train('houses', 'SELECT sqft, rooms, area, garage, price FROM houses',
                     'price', 'linear', seed => 42);

SELECT feature, round(estimate::numeric, 2) AS estimate,
       std_error < 0.1 AS precise, p_value < 1e-6 AS significant
FROM aifactory.coefficients('houses');

-- the same split for the same seed: identical metrics
SELECT a.metrics->'r2' = b.metrics->'r2' AS same_split
FROM aifactory.train('houses', 'SELECT sqft, rooms, area, garage, price FROM houses',
                     'price', 'linear', seed => 42, deploy => 'none') a,
     aifactory.train('houses', 'SELECT sqft, rooms, area, garage, price FROM houses',
                     'price', 'linear', seed => 42, deploy => 'none') b;

-- the test split is about test_size of the rows
SELECT (metrics->>'test_rows')::int BETWEEN 80 AND 120 AS quarter_held_out
FROM aifactory.model_info('houses', 1) AS i(info), LATERAL (SELECT info->'metrics' AS metrics) m;

-- features stored with the model: kinds, imputation values, levels
SELECT f->>'name' AS name, f->>'kind' AS kind, f->>'type' AS type,
       f->'levels' AS levels, f->>'reference' AS reference
FROM jsonb_array_elements(aifactory.model_info('houses', 1)->'features') f;

-- a table name source with an explicit feature list, no intercept
SELECT version, round((metrics->>'train_r2')::numeric, 3) AS train_r2
FROM aifactory.train('houses', 'houses', 'price', 'linear',
                     hyperparams => '{"intercept": false}',
                     features => ARRAY['sqft', 'rooms'], test_size => 0, deploy => 'none');
SELECT feature, round(estimate::numeric, 1) AS estimate
FROM aifactory.coefficients('houses', 4);
SELECT aifactory.model_info('houses', 4)->'hyperparams' AS hyperparams,
       aifactory.model_info('houses', 4)->'metrics'->>'evaluated_on' AS evaluated_on;

-- a view source
CREATE VIEW big_houses AS SELECT sqft, rooms, price FROM houses WHERE sqft > 100;
SELECT version, (metrics->>'train_rows')::int + (metrics->>'test_rows')::int AS rows
FROM aifactory.train('big_houses', 'big_houses', 'price', 'linear', seed => 1);

-- ridge: scikit-learn's alpha on standardized features by default
SELECT version, algorithm, round((metrics->>'r2')::numeric, 3) AS r2
FROM aifactory.train('houses_ridge', 'SELECT sqft, rooms, area, garage, price FROM houses',
                     'price', 'ridge', '{"alpha": 10}', seed => 42);
SELECT aifactory.model_info('houses_ridge')->'hyperparams' AS hyperparams;
-- every level keeps its column (no reference level), no standard errors
SELECT feature, std_error IS NULL AS no_std_error
FROM aifactory.coefficients('houses_ridge');

-- a large penalty shrinks the slopes toward zero
SELECT version FROM aifactory.train('houses_ridge2', 'SELECT sqft, price FROM houses',
                                    'price', 'ridge', '{"alpha": 1e6}', seed => 42);
SELECT round(estimate::numeric, 3) AS sqft_slope_heavy_penalty
FROM aifactory.coefficients('houses_ridge2') WHERE feature = 'sqft';

-- NULLs in numeric features are imputed with the training mean
UPDATE houses SET sqft = NULL WHERE id % 10 = 0;
SELECT version, (metrics->>'train_rows')::int + (metrics->>'test_rows')::int AS rows
FROM aifactory.train('houses_nulls', 'SELECT sqft, rooms, price FROM houses',
                     'price', 'linear', seed => 3);
SELECT round((f->>'impute')::numeric, 0) BETWEEN 140 AND 160 AS mean_imputed
FROM jsonb_array_elements(aifactory.model_info('houses_nulls')->'features') f
WHERE f->>'name' = 'sqft';

-- a NULL in a test row is imputed too, and that row counts in the metrics
-- (here an outlier: wherever it falls, it shows in the fit or in the rmse)
CREATE TABLE lone_null AS SELECT i::float8 AS x, 2.0 * i AS y FROM generate_series(1, 1000) i;
UPDATE lone_null SET x = NULL, y = 1e6 WHERE x = 500;
SELECT bool_and((m->>'train_r2')::float8 < 0.999 OR (m->>'rmse')::float8 > 1000) AS outlier_seen
FROM generate_series(1, 8) seed,
     LATERAL aifactory.train('lone_null', 'lone_null', 'y', 'linear', test_size => 0.5,
                             seed => seed, deploy => 'none') t,
     LATERAL (SELECT t.metrics AS m) mm;
DROP TABLE lone_null;

-- rows with a NULL target are skipped
UPDATE houses SET price = NULL WHERE id <= 20;
SELECT (metrics->>'train_rows')::int + (metrics->>'test_rows')::int AS rows
FROM aifactory.train('houses_target_nulls', 'SELECT sqft, rooms, price FROM houses',
                     'price', 'linear', seed => 3);

-- integer and numeric targets and features are fine
SELECT version FROM aifactory.train('ints',
    'SELECT g AS x, (2 * g + 1)::numeric AS y FROM generate_series(1, 50) g',
    'y', 'linear', test_size => 0);
SELECT feature, round(estimate::numeric, 6) AS estimate FROM aifactory.coefficients('ints');

-- On larger sources most test rows are not kept: their errors are summed
-- under pilot fits and corrected exactly once the model is known.  The
-- metrics equal those of a second scan (forced here by a tiny memory
-- budget, in which no test row can be kept).
SELECT setseed(0.9);
CREATE TABLE many AS
SELECT a, b, c, 1 + 2 * a - 3 * b + 0.5 * c + (random() - 0.5) AS y
FROM (SELECT random() AS a, random() AS b, random() AS c FROM generate_series(1, 60000)) s;
SELECT version FROM aifactory.train('many', 'many', 'y', 'linear', seed => 5, deploy => 'none');
SELECT version FROM aifactory.train('many', 'many', 'y', 'ridge', '{"alpha": 5}', seed => 5, deploy => 'none');
SET aifactory.train_memory = '64kB';
SELECT version FROM aifactory.train('many', 'many', 'y', 'linear', seed => 5, deploy => 'none');
SELECT version FROM aifactory.train('many', 'many', 'y', 'ridge', '{"alpha": 5}', seed => 5, deploy => 'none');
RESET aifactory.train_memory;
SELECT m, bool_and(abs((x.info->'metrics'->>m)::float8 - (y.info->'metrics'->>m)::float8)
                   <= 1e-9 * abs((y.info->'metrics'->>m)::float8)) AS same
FROM (VALUES (1, 3), (2, 4)) v(a, b),
     LATERAL (SELECT aifactory.model_info('many', v.a) AS info) x,
     LATERAL (SELECT aifactory.model_info('many', v.b) AS info) y,
     unnest(ARRAY['r2', 'rmse', 'mae', 'test_rows']) m
GROUP BY m ORDER BY m;
DROP TABLE many;

DROP VIEW big_houses;
DROP TABLE houses;

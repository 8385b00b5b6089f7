-- Prediction inside queries: arrays, rows mapped by column name, versions.
SELECT setseed(0.25);
CREATE TABLE pts AS
SELECT i AS id, random() * 10 AS a, random() * 10 AS b,
       (ARRAY['red', 'green', 'blue'])[1 + i % 3] AS color
FROM generate_series(1, 300) i;
ALTER TABLE pts ADD COLUMN y float8;
UPDATE pts SET y = 1 + 2 * a - 3 * b + CASE color WHEN 'green' THEN 4 WHEN 'red' THEN -1 ELSE 0 END;

SELECT version FROM aifactory.train('num', 'SELECT a, b, y FROM pts', 'y', 'linear', seed => 7);
SELECT version FROM aifactory.train('cat', 'SELECT a, b, color, y FROM pts', 'y', 'linear', seed => 7);

-- exact data: predictions reproduce the target
SELECT max(abs(aifactory.predict('num', ARRAY[a, b]) - (1 + 2 * a - 3 * b
           + CASE color WHEN 'green' THEN 4 WHEN 'red' THEN -1 ELSE 0 END))) < 5 AS close_without_color,
       max(abs(aifactory.predict('cat', p) - y)) < 1e-9 AS exact_with_color
FROM pts p;

-- the row form maps columns by name, whatever their order and extra columns
SELECT round(aifactory.predict('cat', r)::numeric, 6) AS prediction
FROM (SELECT 'green'::text AS color, 99 AS unused, 2.0::float8 AS b, 1::int AS a) r;
-- numeric and integer columns convert; the array form takes float8[]
SELECT round(aifactory.predict('num', r)::numeric, 6) AS from_row,
       round(aifactory.predict('num', ARRAY[1, 2]::float8[])::numeric, 6) AS from_array
FROM (SELECT 1::numeric AS a, 2::smallint AS b) r;

-- NULL features take the training mean; unseen categories encode as zeros
SELECT round(aifactory.predict('num', ARRAY[NULL, 2]::float8[])::numeric, 3)
     = round(aifactory.predict('num', ARRAY[(aifactory.model_info('num')->'features'->0->>'impute')::float8, 2])::numeric, 3)
       AS null_is_mean;
SELECT round(aifactory.predict('cat', r)::numeric, 6) AS unseen_color,
       round(aifactory.predict('cat', s)::numeric, 6) AS null_color
FROM (SELECT 1.0::float8 AS a, 2.0::float8 AS b, 'purple'::text AS color) r,
     (SELECT 1.0::float8 AS a, 2.0::float8 AS b, NULL::text AS color) s;

-- an explicit version keeps serving what it was, whatever is deployed
SELECT version FROM aifactory.train('num', 'SELECT a, b, y + 100 AS y FROM pts', 'y', 'linear',
                                    seed => 7, deploy => 'latest');
SELECT round(aifactory.predict('num', 1, ARRAY[0, 0]::float8[])::numeric, 3) AS v1,
       round(aifactory.predict('num', 2, ARRAY[0, 0]::float8[])::numeric, 3) AS v2,
       round(aifactory.predict('num', ARRAY[0, 0]::float8[])::numeric, 3) AS deployed;
SELECT * FROM aifactory.rollback('num');
SELECT round(aifactory.predict('num', ARRAY[0, 0]::float8[])::numeric, 3) AS after_rollback;

-- in WHERE, ORDER BY, aggregates and joins
SELECT count(*) AS predicted_above_10 FROM pts WHERE aifactory.predict('cat', pts) > 10;
SELECT id FROM pts ORDER BY aifactory.predict('num', ARRAY[a, b]) DESC, id LIMIT 3;
SELECT color, round(avg(aifactory.predict('cat', p))::numeric, 2) AS mean_prediction
FROM pts p GROUP BY color ORDER BY color;

-- several projects in one statement, each resolved once
SELECT max(abs(aifactory.predict('cat', p) - y)) < 1e-9
       AND max(abs(aifactory.predict('num', 1, ARRAY[a, b]) - aifactory.predict('num', ARRAY[a, b]))) < 1e-12
       AND max(abs(aifactory.predict('num', 2, ARRAY[a, b]) - aifactory.predict('num', ARRAY[a, b]) - 100)) < 1e-6
       AS three_models_one_query
FROM pts p;

-- a read-only transaction can predict
BEGIN TRANSACTION READ ONLY;
SELECT round(aifactory.predict('num', ARRAY[1, 1]::float8[])::numeric, 3) AS read_only;
COMMIT;

-- predict is STABLE and PARALLEL SAFE, never IMMUTABLE (the keyed forms, which
-- may write the prediction log, are VOLATILE and PARALLEL UNSAFE: test/pgtap/traffic.sql)
SELECT DISTINCT provolatile, proparallel FROM pg_proc
WHERE proname = 'predict' AND pronamespace = 'aifactory'::regnamespace
  AND NOT 'key' = ANY (proargnames);

DROP TABLE pts;

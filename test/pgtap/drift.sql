-- drift(): the baseline stored at training time against current data
-- (DESIGN.md section 3, "Drift and monitoring").
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.
-- The generator is seeded: x1..x4 uniform on [0, 10), c1 'a'/'b'/'c' with
-- shares .5/.3/.2, y linear in them plus noise.  "Fresh" tables come from
-- the same generator; "shifted" ones move features by +3, and "cat" ones
-- change c1's shares to .2/.3/.5.

SET client_min_messages = warning;
SELECT plan(43);

CREATE FUNCTION gen(n integer, shift double precision, cat_shift boolean)
RETURNS TABLE (id integer, x1 float8, x2 float8, x3 float8, x4 float8, c1 text, y float8)
LANGUAGE sql AS $$
    SELECT i, u1 + shift, u2, u3 + shift, u4,
           CASE WHEN uc < (CASE WHEN cat_shift THEN 0.2 ELSE 0.5 END) THEN 'a'
                WHEN uc < (CASE WHEN cat_shift THEN 0.5 ELSE 0.8 END) THEN 'b'
                ELSE 'c' END,
           u1 + 2 * u2 - u3 + 0.5 * u4 + e
    FROM (SELECT i, 10 * random() AS u1, 10 * random() AS u2, 10 * random() AS u3,
                 10 * random() AS u4, random() AS uc, random() AS e
          FROM generate_series(1, n) i) s
$$;

SELECT setseed(0.42) AS seeded \gset
CREATE TABLE base AS SELECT * FROM gen(4000, 0, false);
UPDATE base SET y = y + CASE c1 WHEN 'a' THEN 2 ELSE 0 END;
CREATE TABLE fresh_small AS SELECT * FROM gen(800, 0, false);
CREATE TABLE fresh_large AS SELECT * FROM gen(3000, 0, false);
CREATE TABLE cat_large AS SELECT * FROM gen(3000, 0, true);
-- the fresh rows with x1 and x4 moved (the predictions move by 4.5)
CREATE TABLE shifted AS SELECT * FROM fresh_small;
UPDATE shifted SET x1 = x1 + 3, x4 = x4 + 3;
-- and x2 too, with c1 drawn with the changed shares
CREATE TABLE shifted_cat AS SELECT * FROM shifted;
UPDATE shifted_cat s SET x2 = s.x2 + 3, c1 = c.c1 FROM cat_large c WHERE c.id = s.id;
CREATE TABLE no_x4 AS SELECT id, x1, x2, x3, c1 FROM fresh_small;

SELECT aifactory.train('g', 'base', 'y', 'gbdt', '{"n_estimators": 20}',
                       ARRAY['x1', 'x2', 'x3', 'x4', 'c1']) IS NOT NULL AS trained \gset

-- ---- baselines are stored -------------------------------------------------

SELECT ok((SELECT baseline IS NOT NULL FROM aifactory.models WHERE version = 1
           AND project_id = (SELECT id FROM aifactory.projects WHERE name = 'g')),
          'a gbdt model stores a baseline');
SELECT ok((aifactory.model_info('g')->>'baseline_bytes')::int > 0,
          'model_info reports the baseline''s size');

-- ---- the same distribution: no drift --------------------------------------

CREATE TABLE r_small AS SELECT * FROM aifactory.drift('g', 'fresh_small');
CREATE TABLE r_large AS SELECT * FROM aifactory.drift('g', 'fresh_large');
SELECT is((SELECT count(*) FROM r_small), 7::bigint,
          'one row per feature, one for the predictions, one for the dataset');
SELECT is((SELECT array_agg(feature ORDER BY feature) FROM r_small),
          ARRAY['(dataset)', '(prediction)', 'c1', 'x1', 'x2', 'x3', 'x4'],
          'rows are named by feature');
SELECT ok((SELECT NOT drifted FROM r_small WHERE feature = '(dataset)'),
          'fresh rows (800): the dataset has not drifted');
SELECT ok((SELECT count(*) <= 1 FROM r_small WHERE drifted AND kind <> 'dataset'),
          'fresh rows (800): at most one feature flagged at p < 0.05');
SELECT ok((SELECT NOT drifted FROM r_large WHERE feature = '(dataset)'),
          'fresh rows (3000): the dataset has not drifted');
SELECT is((SELECT count(*) FROM r_large WHERE drifted AND kind <> 'dataset'), 0::bigint,
          'fresh rows (3000): no feature at distance >= 0.1');

-- ---- small samples test, large ones measure distance ----------------------

SELECT is((SELECT array_agg(DISTINCT method) FROM r_small WHERE kind = 'numeric'),
          ARRAY['ks'], '<= 1000 current rows: numeric features use KS');
SELECT is((SELECT method FROM r_small WHERE feature = 'c1'), 'chisquare',
          '<= 1000 current rows: categorical features use chi-square');
SELECT is((SELECT array_agg(DISTINCT method) FROM r_large WHERE kind = 'numeric'),
          ARRAY['wasserstein'], '> 1000 current rows: numeric features use normed Wasserstein');
SELECT is((SELECT method FROM r_large WHERE feature = 'c1'), 'jensenshannon',
          '> 1000 current rows: categorical features use Jensen-Shannon');
SELECT ok((SELECT bool_and(threshold = 0.05 AND p_value IS NOT NULL) FROM r_small
           WHERE kind <> 'dataset'), 'the tests report p-values against 0.05');
SELECT ok((SELECT bool_and(threshold = 0.1 AND p_value IS NULL) FROM r_large
           WHERE kind <> 'dataset'), 'the distances have threshold 0.1 and no p-value');
SELECT ok((SELECT bool_and(psi IS NOT NULL AND psi >= 0) FROM r_large WHERE kind <> 'dataset'),
          'PSI is reported for every feature');

-- ---- shifted features ------------------------------------------------------

CREATE TABLE r_shift AS SELECT * FROM aifactory.drift('g', 'shifted');
SELECT is((SELECT array_agg(feature ORDER BY feature) FROM r_shift
           WHERE drifted AND kind IN ('numeric', 'categorical') AND feature NOT LIKE '(%'),
          ARRAY['x1', 'x4'], 'shifting x1 and x4 flags exactly those');
SELECT is((SELECT statistic FROM r_shift WHERE feature = '(dataset)'), 0.4::float8,
          'the dataset statistic is the share of drifted features (2 of 5)');
SELECT ok((SELECT NOT drifted FROM r_shift WHERE feature = '(dataset)'),
          '2 of 5 features drifted: below the 0.5 share');
SELECT ok((SELECT drifted FROM r_shift WHERE feature = '(prediction)'),
          'shifted inputs move the predictions: prediction drift');

CREATE TABLE r_shift_cat AS SELECT * FROM aifactory.drift('g', 'shifted_cat');
SELECT is((SELECT array_agg(feature ORDER BY feature) FROM r_shift_cat
           WHERE drifted AND feature NOT LIKE '(%'),
          ARRAY['c1', 'x1', 'x2', 'x4'], 'x1, x2, x4 shifted and c1''s frequencies changed');
SELECT ok((SELECT drifted AND statistic = 0.8 FROM r_shift_cat WHERE feature = '(dataset)'),
          '4 of 5 features drifted: the dataset has drifted');

CREATE TABLE r_cat AS SELECT * FROM aifactory.drift('g', 'cat_large');
SELECT ok((SELECT drifted AND method = 'jensenshannon' AND statistic > 0.2
           FROM r_cat WHERE feature = 'c1'),
          'a categorical feature whose frequencies change drifts (Jensen-Shannon ~0.3)');
SELECT is((SELECT count(*) FROM r_cat WHERE drifted AND kind = 'numeric' AND feature NOT LIKE '(%'),
          0::bigint, 'the unchanged numeric features do not');

-- ---- overrides ---------------------------------------------------------------

CREATE TABLE r_over AS SELECT * FROM aifactory.drift('g', 'fresh_small', NULL,
    '{"x1": "psi", "*": "wasserstein"}', '{"x2": 0, "(dataset)": 0.2}');
SELECT is((SELECT method FROM r_over WHERE feature = 'x1'), 'psi', 'a feature''s own method');
SELECT is((SELECT method FROM r_over WHERE feature = 'x3'), 'wasserstein', '"*" for the others');
SELECT is((SELECT method FROM r_over WHERE feature = 'c1'), 'chisquare',
          '"*" skips the features its method does not apply to');
SELECT ok((SELECT drifted AND threshold = 0 FROM r_over WHERE feature = 'x2'),
          'a threshold override (distance >= 0 always drifts)');
SELECT ok((SELECT threshold = 0.2 AND drifted FROM r_over WHERE feature = '(dataset)'),
          'the dataset share threshold can be overridden');

-- ---- the statistics are scipy's where the baseline is exact ---------------

-- 50 reference values 10 sin(i), 40 current values 10 cos(i) + 1; with
-- test_size 0 an in-memory fit summarizes every row, so the baseline is
-- exact.  With /usr/bin/python3 (scipy 1.10):
--   stats.ks_2samp(ref, cur)                         -> 0.16, 0.5676093958756026
--   stats.wasserstein_distance(ref, cur) / np.std(ref) -> 0.13955909348184398
CREATE TABLE ref50 AS SELECT i, 10 * sin(i) AS x, i::float8 AS y FROM generate_series(1, 50) i;
CREATE TABLE cur40 AS SELECT i, 10 * cos(i) + 1 AS x FROM generate_series(1, 40) i;
SELECT aifactory.train('exact', 'ref50', 'y', 'elastic_net', features => ARRAY['x'],
                       test_size => 0) IS NOT NULL AS trained \gset
SELECT ok((SELECT abs(statistic - 0.16) < 1e-12 AND abs(p_value - 0.5676093958756026) < 1e-9
           FROM aifactory.drift('exact', 'cur40') WHERE feature = 'x'),
          'KS statistic and p-value equal scipy.stats.ks_2samp''s');
SELECT ok((SELECT abs(statistic - 0.13955909348184398) < 1e-9 AND drifted
           FROM aifactory.drift('exact', 'cur40', NULL, '{"x": "wasserstein"}') WHERE feature = 'x'),
          'normed Wasserstein equals scipy''s wasserstein_distance / std');

-- ---- one-pass fits: the kept test rows -------------------------------------

SELECT aifactory.train('lin', 'base', 'y', 'linear', features => ARRAY['x1', 'x2', 'x3', 'x4', 'c1'])
       IS NOT NULL AS trained \gset
SELECT ok((SELECT NOT drifted FROM aifactory.drift('lin', 'fresh_large') WHERE feature = '(dataset)')
          AND (SELECT drifted FROM aifactory.drift('lin', 'shifted') WHERE feature = '(prediction)'),
          'least squares: a baseline from the held-out rows');
SELECT aifactory.train('lin', 'base', 'y', 'linear', features => ARRAY['x1', 'x2'], test_size => 0)
       IS NOT NULL AS trained \gset

-- ---- classifiers, and copies ----------------------------------------------

CREATE TABLE base_cls AS SELECT *, x1 + x4 > 10 AS hi FROM base;
SELECT aifactory.train('cls', 'base_cls', 'hi', 'logistic', features => ARRAY['x1', 'x2', 'x3', 'x4'])
       IS NOT NULL AS trained \gset
SELECT ok((SELECT kind = 'categorical' AND method = 'chisquare' AND NOT drifted
           FROM aifactory.drift('cls', 'fresh_small') WHERE feature = '(prediction)')
          AND (SELECT drifted FROM aifactory.drift('cls', 'shifted') WHERE feature = '(prediction)'),
          'a classifier''s prediction drift compares predicted class labels');
SELECT aifactory.import_model('g_copy', aifactory.export_model('g')) AS imported \gset
SELECT results_eq($$SELECT * FROM aifactory.drift('g_copy', 'shifted_cat', 1)$$,
                  $$SELECT * FROM aifactory.drift('g', 'shifted_cat')$$,
                  'export and import carry the baseline');

-- ---- beyond the current sample, and in parallel workers --------------------

-- 40,000 current rows: more than the current side's 8192-row sample.  The
-- sample is chosen by a hash of each row's values, so a scan split among
-- parallel workers summarizes exactly what one backend does.
CREATE TABLE fresh_big AS SELECT * FROM gen(40000, 0, false);
ANALYZE fresh_big;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE r_big_serial AS SELECT * FROM aifactory.drift('g', 'fresh_big');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
CREATE FUNCTION drift_plan() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXPLAIN SELECT aifactory._drift_pass('\x'::bytea, x1, x2, x3, x4, c1) FROM fresh_big
    LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END $$;
SELECT ok(drift_plan() ~ 'Partial Aggregate' AND drift_plan() ~ 'Gather',
          'the drift scan''s aggregate runs in parallel workers when the planner likes');
SELECT results_eq($$SELECT * FROM aifactory.drift('g', 'fresh_big')$$,
                  $$SELECT * FROM r_big_serial$$,
                  'a parallel drift scan gives the serial result, beyond the current sample');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- a source that itself runs the internal aggregate (its final function
-- runs first and takes the in-memory hand-off): drift() must still read
-- its own scan's summary
SELECT results_eq($$SELECT * FROM aifactory.drift('g',
                    'SELECT * FROM fresh_big WHERE (SELECT aifactory._drift_pass(m.model, f.x1, f.x2, f.x3, f.x4, f.c1)
                       FROM fresh_small f, aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
                       WHERE p.name = ''g'' AND m.version = 1) IS NOT NULL')$$,
                  $$SELECT * FROM r_big_serial$$,
                  'another _drift_pass inside the source does not take drift()''s summary');
SELECT ok((SELECT NOT drifted FROM r_big_serial WHERE feature = '(dataset)')
          AND (SELECT bool_and(method = 'wasserstein' AND statistic < 0.05)
               FROM r_big_serial WHERE kind = 'numeric' AND feature <> '(prediction)'),
          'the same distribution, sampled on both sides: distances near zero');

-- ---- errors ------------------------------------------------------------------

SELECT throws_ok($$SELECT * FROM aifactory.drift('nope', 'fresh_small')$$, '42704', NULL,
                 'unknown project');
SELECT throws_ok($$SELECT * FROM aifactory.drift('g', 'no_x4')$$, '42703',
                 'column "x4" of the model is not in the source', 'missing column');
SELECT throws_ok($$SELECT * FROM aifactory.drift('lin', 'fresh_small', 2)$$, '55000', NULL,
                 'least squares with test_size 0 has no baseline');
SELECT throws_ok($$SELECT * FROM aifactory.drift('g', 'fresh_small', NULL, '{"x1": "kolmogorov"}')$$,
                 '22023', 'unknown drift method "kolmogorov"', 'unknown method name');
SELECT throws_ok($$SELECT * FROM aifactory.drift('g', 'fresh_small', NULL, '{"x9": "ks"}')$$,
                 '22023', NULL, 'an override for a feature the model does not have');
SELECT throws_ok($$SELECT * FROM aifactory.drift('g', 'fresh_small', NULL, '{"c1": "ks"}')$$,
                 '22023', NULL, 'KS named for a categorical feature');

SELECT * FROM finish();

-- The load read straight from a table's heap (src/train/tableload.c) against
-- the load through the executor: when a source plans as a bare scan of one
-- table, the iterative algorithms read its rows with the table access
-- method.  Every model here is trained twice, once on the bare source and
-- once with a filter that keeps every row (id > -1), which makes the
-- executor run the load; the two must be the same model to the last bit:
-- the same coefficients, the same metrics, the same predictions.
--
--   1. tuples read at fixed offsets, and the tuples that cannot be: NULLs,
--      a dropped column, a column added after the rows (fewer attributes
--      in old tuples), a text column before the features, the query's
--      columns in another order than the table's
--   2. logistic, elastic_net, kmeans (a constant in place of the target),
--      gbdt and tune
--   3. what must not be read directly: row-level security, inheritance,
--      a view that filters; permissions as the executor checks them
--      (table, column, a view's owner)
--   4. an error in the last row of a large table, and a load past
--      aifactory.train_memory: clean errors, and the same session trains
--      right after
--
-- Everything runs in one transaction that is rolled back (roles are
-- cluster-wide).  Data are made with setseed(); every train() has a seed.

SET client_min_messages = warning;
SET extra_float_digits = 3;
BEGIN;
SELECT plan(33);

-- ---- helpers ---------------------------------------------------------------------------------

-- A model's metrics, without the timings.
CREATE FUNCTION pg_temp.metrics(p text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_object_agg(metric, value ORDER BY metric)
    FROM aifactory.model_metrics
    WHERE project = p AND metric NOT LIKE '%seconds%'
$$;

-- Two projects' deployed models are the same: metrics, coefficients (when
-- the algorithm has them) and the prediction for every row of the table.
CREATE FUNCTION pg_temp.same_model(a text, b text, tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    ndiff bigint;
BEGIN
    IF pg_temp.metrics(a) IS DISTINCT FROM pg_temp.metrics(b) THEN
        RETURN format('metrics differ: %s vs %s', pg_temp.metrics(a), pg_temp.metrics(b));
    END IF;
    IF EXISTS (SELECT 1 FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
               WHERE p.name = a AND m.algorithm IN ('logistic', 'elastic_net')) THEN
        SELECT count(*) INTO ndiff
        FROM (SELECT feature, coalesce(class, '') AS class, estimate FROM aifactory.coefficients(a)) x
        FULL JOIN (SELECT feature, coalesce(class, '') AS class, estimate FROM aifactory.coefficients(b)) y
        USING (feature, class)
        WHERE x.estimate IS DISTINCT FROM y.estimate;
        IF ndiff > 0 THEN
            RETURN format('%s coefficients differ', ndiff);
        END IF;
    END IF;
    EXECUTE format('SELECT count(*) FROM %s t WHERE aifactory.predict(%L, t) IS DISTINCT FROM aifactory.predict(%L, t)',
                   tbl, a, b) INTO ndiff;
    IF ndiff > 0 THEN
        RETURN format('%s predictions differ', ndiff);
    END IF;
    RETURN 'same';
END
$$;

-- Train p on source and p_exec on the same rows through the executor.
CREATE FUNCTION pg_temp.train_both(p text, source text, target text, algorithm text,
                                   hyperparams jsonb DEFAULT '{}') RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aifactory.train(p, source, target, algorithm, hyperparams, seed => 7);
    PERFORM aifactory.train(p || '_exec', 'SELECT * FROM (' || source || ') s WHERE id > -1',
                            target, algorithm, hyperparams, seed => 7);
END
$$;

-- ---- 1. tuples at fixed offsets and the others -------------------------------------------------

SELECT setseed(0.42) AS seeded \gset
CREATE TABLE tl AS
SELECT i AS id, random() AS a, random() AS b, (random() * 10)::int4 AS c, random() AS d
FROM generate_series(1, 20000) i;
ALTER TABLE tl ADD COLUMN label int4;
UPDATE tl SET label = (a + 0.5 * b - 0.05 * c + 0.3 * random() > 0.7)::int;

SELECT pg_temp.train_both('fixed', 'SELECT id, a, b, c, d, label FROM tl', 'label', 'logistic');
SELECT is(pg_temp.same_model('fixed', 'fixed_exec', 'tl'), 'same',
          'logistic on fixed-width columns: read from the heap = through the executor');
SELECT is((pg_temp.metrics('fixed') ->> 'train_rows')::int + (pg_temp.metrics('fixed') ->> 'test_rows')::int,
          20000, 'every row was read');

-- the table as a name, the columns in another order than the table's
SELECT pg_temp.train_both('order', 'SELECT label, d, c, b, a, id FROM tl', 'label', 'logistic');
SELECT is(pg_temp.same_model('order', 'order_exec', 'tl'), 'same',
          'columns in another order than the table''s');
SELECT aifactory.train('named', 'tl', 'label', 'logistic', seed => 7);
SELECT is(pg_temp.same_model('named', 'fixed_exec', 'tl'), 'same',
          'the table by name = the executor''s load of the same columns');

-- float8 features handed over as they lie in the tuple (side by side, in the query's
-- order), or gathered (a column between them, or another order)
CREATE FUNCTION pg_temp.train_f8(p text, cols text, tbl text DEFAULT 'tl') RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aifactory.train(p, format('SELECT %s, label FROM %s', cols, tbl), 'label', 'logistic',
                            '{"impute": "median"}', seed => 7);
    PERFORM aifactory.train(p || '_exec', format('SELECT %s, label FROM %s WHERE a >= 0', cols, tbl),
                            'label', 'logistic', '{"impute": "median"}', seed => 7);
END
$$;
SELECT pg_temp.train_f8('f8side', 'a, b');
SELECT pg_temp.train_f8('f8gap', 'a, b, d');
SELECT pg_temp.train_f8('f8swap', 'b, a');
SELECT is(format('%s, %s, %s', pg_temp.same_model('f8side', 'f8side_exec', 'tl'),
                 pg_temp.same_model('f8gap', 'f8gap_exec', 'tl'), pg_temp.same_model('f8swap', 'f8swap_exec', 'tl')),
          'same, same, same', 'float8 features side by side, apart, swapped');

-- NULLs: those tuples are deformed as usual; median imputation
CREATE TABLE tl_null AS SELECT * FROM tl;
UPDATE tl_null SET b = NULL WHERE id % 17 = 0;
SELECT pg_temp.train_both('nulls', 'SELECT id, a, b, c, label FROM tl_null', 'label', 'logistic',
                          '{"impute": "median"}');
SELECT is(pg_temp.same_model('nulls', 'nulls_exec', 'tl_null'), 'same',
          'some tuples with NULLs, imputed by the median');

SELECT pg_temp.train_f8('f8null', 'a, b', 'tl_null');
SELECT is(pg_temp.same_model('f8null', 'f8null_exec', 'tl_null'), 'same',
          'float8 features, some tuples with NULLs among the others');

-- a dropped column before the features, and a column added after the rows were written
CREATE TABLE tl_alter AS SELECT id, 1.0::float8 AS gone, a, b, c, label FROM tl;
ALTER TABLE tl_alter DROP COLUMN gone;
ALTER TABLE tl_alter ADD COLUMN e float8 DEFAULT 0.25;
UPDATE tl_alter SET e = a * b WHERE id % 3 = 0;    -- new tuples have e, the others do not
SELECT pg_temp.train_both('altered', 'SELECT id, a, b, c, e, label FROM tl_alter', 'label', 'logistic');
SELECT is(pg_temp.same_model('altered', 'altered_exec', 'tl_alter'), 'same',
          'a dropped column and a column added later (old tuples without it)');
SELECT is((SELECT count(*) FROM aifactory.coefficients('altered') WHERE feature = 'e'), 1::bigint,
          'the added column is a feature');

-- a variable-width column before the features: no fixed offsets; a text feature
CREATE TABLE tl_text AS
SELECT id, CASE WHEN c < 3 THEN 'low' WHEN c < 7 THEN 'mid' ELSE 'high' END AS grade, a, b, label FROM tl;
SELECT pg_temp.train_both('text', 'SELECT id, grade, a, b, label FROM tl_text', 'label', 'logistic');
SELECT is(pg_temp.same_model('text', 'text_exec', 'tl_text'), 'same',
          'a text feature before the numeric ones');

-- ---- 2. the other algorithms that load ---------------------------------------------------------

SELECT pg_temp.train_both('enet', 'SELECT id, a, b, c, d FROM tl', 'd', 'elastic_net', '{"alpha": 0.001}');
SELECT is(pg_temp.same_model('enet', 'enet_exec', 'tl'), 'same', 'elastic_net');
SELECT pg_temp.train_both('km', 'SELECT id, a, b, d FROM tl', NULL, 'kmeans', '{"n_clusters": 3}');
SELECT is(pg_temp.same_model('km', 'km_exec', 'tl'), 'same', 'kmeans (a constant in place of the target)');
SELECT pg_temp.train_both('trees', 'SELECT id, a, b, c, label FROM tl', 'label', 'gbdt', '{"n_estimators": 5}');
SELECT is(pg_temp.same_model('trees', 'trees_exec', 'tl'), 'same', 'gbdt');
SELECT aifactory.tune('tuned', 'SELECT id, a, b, c, label FROM tl', 'label', 'logistic',
                      '{"C": [0.1, 1.0]}', 'grid', folds => 3, workers => 0, seed => 7);
SELECT aifactory.tune('tuned_exec', 'SELECT id, a, b, c, label FROM tl WHERE id > -1', 'label', 'logistic',
                      '{"C": [0.1, 1.0]}', 'grid', folds => 3, workers => 0, seed => 7);
SELECT is(pg_temp.same_model('tuned', 'tuned_exec', 'tl'), 'same', 'tune');

-- ---- 3. sources that must go through the executor; permissions ---------------------------------

-- row-level security: only the visible rows
CREATE TABLE tl_rls AS SELECT * FROM tl;
CREATE ROLE aif_tap_loader;
GRANT SELECT ON tl_rls TO aif_tap_loader;
GRANT USAGE ON SCHEMA aifactory TO aif_tap_loader;
ALTER TABLE tl_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY some_rows ON tl_rls FOR SELECT USING (id % 2 = 0);
SET ROLE aif_tap_loader;
SELECT lives_ok($$SELECT aifactory.train('rls', 'SELECT a, b, c, label FROM tl_rls', 'label', 'logistic', seed => 7)$$,
                'a role under a row-level security policy trains');
RESET ROLE;
SELECT is((pg_temp.metrics('rls') ->> 'train_rows')::int + (pg_temp.metrics('rls') ->> 'test_rows')::int,
          10000, 'the policy''s rows only');

-- inheritance: the parent's rows and the child's
CREATE TABLE tl_parent (id int, a float8, b float8, label int4);
CREATE TABLE tl_child () INHERITS (tl_parent);
INSERT INTO tl_parent SELECT id, a, b, label FROM tl WHERE id <= 12000;
INSERT INTO tl_child SELECT id, a, b, label FROM tl WHERE id > 12000;
SELECT aifactory.train('inh', 'tl_parent', 'label', 'logistic', seed => 7);
SELECT is((pg_temp.metrics('inh') ->> 'train_rows')::int + (pg_temp.metrics('inh') ->> 'test_rows')::int,
          20000, 'a parent table: its rows and its child''s');
SELECT aifactory.train('only', 'SELECT * FROM ONLY tl_parent', 'label', 'logistic', seed => 7);
SELECT is((pg_temp.metrics('only') ->> 'train_rows')::int + (pg_temp.metrics('only') ->> 'test_rows')::int,
          12000, 'ONLY the parent: its own rows');

-- views: one that filters, one that is the table; a view's owner's rights
CREATE VIEW tl_some AS SELECT id, a, b, label FROM tl WHERE id <= 5000;
CREATE VIEW tl_all AS SELECT id, a, b, label FROM tl;
SELECT aifactory.train('some', 'tl_some', 'label', 'logistic', seed => 7);
SELECT is((pg_temp.metrics('some') ->> 'train_rows')::int + (pg_temp.metrics('some') ->> 'test_rows')::int,
          5000, 'a view that filters');
SELECT aifactory.train('viewall', 'tl_all', 'label', 'logistic', seed => 7);
SELECT aifactory.train('viewall_exec', 'SELECT * FROM tl_all WHERE id > -1', 'label', 'logistic', seed => 7);
SELECT is(pg_temp.same_model('viewall', 'viewall_exec', 'tl'), 'same', 'a view that is the table');

GRANT SELECT ON tl_all TO aif_tap_loader;          -- the view, not the table
GRANT SELECT (a, b, label) ON tl TO aif_tap_loader; -- some columns of the table
CREATE TABLE tl_secret AS SELECT * FROM tl;
SET ROLE aif_tap_loader;
SELECT lives_ok($$SELECT aifactory.train('v_loader', 'tl_all', 'label', 'logistic', seed => 7)$$,
                'a role with SELECT on the view only trains on it (the view owner''s rights on the table)');
SELECT lives_ok($$SELECT aifactory.train('cols_loader', 'SELECT a, b, label FROM tl', 'label', 'logistic', seed => 7)$$,
                'a role with SELECT on the columns it uses trains on them');
SELECT throws_ok($$SELECT aifactory.train('cols_loader2', 'SELECT a, b, c, label FROM tl', 'label', 'logistic', seed => 7)$$,
                 '42501', NULL, 'a column it may not read: 42501');
SELECT throws_ok($$SELECT aifactory.train('secret_loader', 'tl_secret', 'label', 'logistic', seed => 7)$$,
                 '42501', NULL, 'a table it may not read: 42501');
SELECT throws_ok($$SELECT aifactory.train('secret_loader', 'SELECT a, b, label FROM tl_secret', 'label', 'logistic', seed => 7)$$,
                 '42501', NULL, 'a query of a table it may not read: 42501');
RESET ROLE;
SELECT is((SELECT count(*) FROM aifactory.projects WHERE name IN ('cols_loader2', 'secret_loader')), 0::bigint,
          'nothing registered for the refused trains');

-- ---- 4. an error in the last row of a large table ----------------------------------------------

CREATE TABLE tl_bad AS
SELECT g AS id, (g % 97)::float8 AS a, (g % 13)::float8 AS b, (g % 7)::float8 AS c, g % 2 AS label
FROM generate_series(1, 40000) g;
UPDATE tl_bad SET c = 'NaN' WHERE id = 40000;
SELECT throws_like($$SELECT aifactory.train('bad', 'tl_bad', 'label', 'logistic', seed => 7)$$,
                   '%"c"%NaN%', 'NaN in the last of 40000 rows read from the heap: the error names the feature');
SELECT throws_ok($$SELECT aifactory.train('bad', 'tl_bad', 'label', 'logistic', seed => 7)$$,
                 '22000', NULL, '... with SQLSTATE 22000');
UPDATE tl_bad SET c = 0 WHERE id = 40000;
SELECT is((SELECT version FROM aifactory.train('bad', 'tl_bad', 'label', 'logistic', seed => 7)), 1,
          'the same session then trains on the mended table');
SELECT pg_temp.train_both('bad2', 'SELECT id, a, b, c, label FROM tl_bad', 'label', 'logistic');
SELECT is(pg_temp.same_model('bad2', 'bad2_exec', 'tl_bad'), 'same', 'and the model is the executor''s');

-- a load past aifactory.train_memory after a few chunks (slabs mapped, the prefault helper
-- started): 54000 naming the setting, then the same session loads it with enough memory
CREATE TABLE tl_big AS
SELECT g AS id, (g % 89)::float8 AS a, (g % 23)::float8 AS b, (g % 7)::float8 AS c, g % 2 AS label
FROM generate_series(1, 60000) g;
SET aifactory.train_memory = '3MB';
SELECT throws_ok($$SELECT aifactory.train('big', 'tl_big', 'label', 'logistic', seed => 7)$$,
                 '54000', NULL, 'a load past aifactory.train_memory after four chunks: 54000');
SELECT throws_like($$SELECT aifactory.train('big', 'tl_big', 'label', 'logistic', seed => 7)$$,
                   '%aifactory.train_memory%', '... naming the setting');
RESET aifactory.train_memory;
SELECT is((SELECT version FROM aifactory.train('big', 'tl_big', 'label', 'logistic', seed => 7)), 1,
          'the same session then loads the 60000 rows');

SELECT * FROM finish();
ROLLBACK;

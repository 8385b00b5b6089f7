-- The model registry: version numbers, deploy by version/latest/best,
-- rollback through the deployment history, train(..., deploy => ...),
-- drop_model, the overview and model_metrics views, the audit log,
-- export/import, prediction in a read-only transaction and with an
-- explicit version.
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.

SET client_min_messages = warning;
SELECT plan(82);

-- ---- data and helpers -------------------------------------------------------

SELECT setseed(0.23) AS seeded \gset
CREATE TABLE d AS
SELECT i AS id, random() AS x1, random() AS x2
FROM generate_series(1, 300) i;
ALTER TABLE d ADD COLUMN y double precision;
UPDATE d SET y = 1 + 2 * x1 - 3 * x2 + 0.1 * random();

-- The deployed version of a project, as the overview view says.
CREATE FUNCTION pg_temp.deployed(p text) RETURNS int LANGUAGE sql AS $$
    SELECT deployed_version FROM aifactory.overview WHERE project = p
$$;

-- Audit entries written since the previous call, as
-- 'action project vN; ...' (a rollback shows as rollback, see below).
CREATE TEMP TABLE audit_mark (id bigint);
INSERT INTO audit_mark VALUES (0);
CREATE FUNCTION pg_temp.new_audit() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    since bigint := (SELECT id FROM audit_mark);
    events text;
BEGIN
    SELECT string_agg(
               -- rollback() is logged as a deploy whose strategy is rollback
               CASE WHEN action = 'deploy' AND detail ->> 'strategy' = 'rollback'
                    THEN 'rollback' ELSE action END
               || ' ' || coalesce(project, '-') || coalesce(' v' || version, ''),
               '; ' ORDER BY id)
      INTO events
      FROM aifactory.audit_log WHERE id > since;
    UPDATE audit_mark SET id = (SELECT coalesce(max(id), 0) FROM aifactory.audit_log);
    RETURN coalesce(events, '');
END
$$;

-- ---- version numbers are per project ----------------------------------------

SELECT results_eq(
    $$SELECT version, deployed FROM aifactory.train('a', 'SELECT x1, x2, y FROM d', 'y', seed => 1)$$,
    $$VALUES (1, true)$$,
    'a v1: the first model of a project is deployed by the default strategy best');
SELECT is(pg_temp.new_audit(), 'create_project a; train a v1; deploy a v1',
          'audit: project creation, train, deploy');
SELECT results_eq(
    $$SELECT version, deployed FROM aifactory.train('a', 'SELECT x1, y FROM d', 'y', seed => 1)$$,
    $$VALUES (2, false)$$,
    'a v2 (x1 only, worse r2): deploy => best leaves v1 deployed');
SELECT is(pg_temp.deployed('a'), 1, 'a still serves v1');
SELECT results_eq(
    $$SELECT version FROM aifactory.train('b', 'SELECT x1, x2, y FROM d', 'y', seed => 7)$$,
    $$VALUES (1)$$,
    'b v1: versions count per project');
SELECT results_eq(
    $$SELECT version, deployed FROM aifactory.train('a', 'SELECT x2, y FROM d', 'y', seed => 1, deploy => 'latest')$$,
    $$VALUES (3, true)$$,
    'a v3 (x2 only) with deploy => latest is deployed although worse');
SELECT results_eq(
    $$SELECT version, deployed FROM aifactory.train('b', 'SELECT x1, x2, y FROM d', 'y', seed => 8, deploy => 'none')$$,
    $$VALUES (2, false)$$,
    'b v2 with deploy => none is not deployed');
SELECT is(pg_temp.deployed('b'), 1, 'deploy => none left b serving v1');
SELECT is(pg_temp.new_audit(),
          'train a v2; create_project b; train b v1; deploy b v1; train a v3; deploy a v3; train b v2',
          'audit: each train, and only the deploys that happened');
SELECT results_eq(
    $$SELECT p.name, m.version FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id ORDER BY 1, 2$$,
    $$VALUES ('a', 1), ('a', 2), ('a', 3), ('b', 1), ('b', 2)$$,
    'models: a has 1, 2, 3 and b has 1, 2');
SELECT is((SELECT count(*) FROM aifactory.projects WHERE name IN ('a', 'b') AND task = 'regression'
                                                     AND owner = current_user::regrole),
          2::bigint, 'projects a and b: regression, owned by the trainer');

-- ---- deploy by version, latest, best ----------------------------------------

SELECT results_eq($$SELECT * FROM aifactory.deploy('a', 2)$$,
                  $$VALUES ('a'::text, 2, 'linear'::text, 'version'::text)$$,
                  'deploy(a, 2) returns the deployed version');
SELECT is(pg_temp.deployed('a'), 2, 'a serves v2');
SELECT is((aifactory.model_info('a') ->> 'version')::int, 2, 'model_info defaults to the deployed version');
SELECT results_eq($$SELECT version, strategy FROM aifactory.deploy('a', 'latest')$$,
                  $$VALUES (3, 'latest'::text)$$, 'deploy(a, latest) deploys v3');
SELECT results_eq($$SELECT version, strategy FROM aifactory.deploy('a', 'best')$$,
                  $$VALUES (1, 'best'::text)$$, 'deploy(a, best) deploys v1');
SELECT is((SELECT version FROM aifactory.model_metrics WHERE project = 'a' AND metric = 'r2'
           ORDER BY value DESC LIMIT 1),
          1, 'v1 is the version of a with the highest r2');
SELECT is(pg_temp.new_audit(), 'deploy a v2; deploy a v3; deploy a v1', 'audit: three deploys');
SELECT results_eq(
    $$SELECT m.version, d.strategy, d.deployed_by = current_user FROM aifactory.deployments d
      JOIN aifactory.models m ON m.id = d.model_id
      JOIN aifactory.projects p ON p.id = d.project_id WHERE p.name = 'a' ORDER BY d.id$$,
    $$VALUES (1, 'best'::text, true), (3, 'latest', true), (2, 'version', true), (3, 'latest', true),
             (1, 'best', true)$$,
    'deployments keeps the whole history of a');

-- ---- rollback: undo the latest deploy, one at a time ------------------------
-- History of a: 1, 3, 2, 3, 1.  Each rollback undoes the latest deploy that
-- is still in effect: 3, then 2, then 3, then 1, then nothing is left.

SELECT results_eq($$SELECT version, strategy FROM aifactory.rollback('a')$$,
                  $$VALUES (3, 'rollback'::text)$$, 'rollback(a): back to v3');
SELECT results_eq($$SELECT version FROM aifactory.rollback('a')$$, $$VALUES (2)$$,
                  'second rollback(a): back to v2');
SELECT results_eq($$SELECT version FROM aifactory.deploy('a', 'rollback')$$, $$VALUES (3)$$,
                  'deploy(a, rollback): back to v3');
SELECT results_eq($$SELECT version FROM aifactory.rollback('a')$$, $$VALUES (1)$$,
                  'fourth rollback(a): back to v1, the first deployment');
SELECT throws_ok($$SELECT * FROM aifactory.rollback('a')$$, '55000', NULL,
                 'a fifth rollback has nothing to go back to');
SELECT is(pg_temp.deployed('a'), 1, 'the failed rollback left v1 deployed');
SELECT is(pg_temp.new_audit(), 'rollback a v3; rollback a v2; rollback a v3; rollback a v1',
          'audit: each rollback, with the version rolled back to');

-- Project r: deploy 1, 2, 3; rollback, rollback.
SELECT is(array_agg(version ORDER BY version), ARRAY[1, 2, 3], 'r: three versions trained, none deployed')
FROM (SELECT (aifactory.train('r', q, 'y', seed => 1, deploy => 'none')).version
      FROM unnest(ARRAY['SELECT x1, x2, y FROM d', 'SELECT x1, y FROM d', 'SELECT x2, y FROM d']) q) t;
SELECT is(pg_temp.deployed('r'), NULL, 'overview: r has no deployed version');
SELECT is(array_agg(v.version ORDER BY v.n), ARRAY[1, 2, 3], 'r: deploy 1, 2, 3')
FROM (SELECT n, (aifactory.deploy('r', n)).version FROM generate_series(1, 3) n) v;
SELECT results_eq($$SELECT version FROM aifactory.rollback('r')$$, $$VALUES (2)$$, 'r: rollback to 2');
SELECT results_eq($$SELECT version FROM aifactory.rollback('r')$$, $$VALUES (1)$$, 'r: second rollback to 1');
SELECT throws_ok($$SELECT * FROM aifactory.rollback('r')$$, '55000', NULL, 'r: third rollback fails');
-- A dropped version is skipped by rollback: deploy 2, 3; drop 2; rollback -> 1.
SELECT results_eq($$SELECT version FROM aifactory.deploy('r', 2) UNION ALL SELECT version FROM aifactory.deploy('r', 3)$$,
                  $$VALUES (2), (3)$$, 'r: deploy 2, then 3');
SELECT lives_ok($$SELECT aifactory.drop_model('r', 2)$$, 'r: drop v2 (not deployed)');
SELECT results_eq($$SELECT version FROM aifactory.rollback('r')$$, $$VALUES (1)$$,
                  'r: rollback skips the dropped v2 and returns to v1');
SELECT is(pg_temp.new_audit(),
          'create_project r; train r v1; train r v2; train r v3; deploy r v1; deploy r v2; deploy r v3; '
          'rollback r v2; rollback r v1; deploy r v2; deploy r v3; drop_model r v2; rollback r v1',
          'audit: trains, deploys, rollbacks and the drop of r');

-- ---- drop_model --------------------------------------------------------------

SELECT results_eq(
    $$SELECT status, model IS NULL, algorithm, train_rows > 0 FROM aifactory.models m
      JOIN aifactory.projects p ON p.id = m.project_id WHERE p.name = 'r' AND version = 2$$,
    $$VALUES ('dropped'::text, true, 'linear'::text, true)$$,
    'a dropped version keeps its row, without bytes, with status dropped');
SELECT is((aifactory.model_info('r', 2) ->> 'status'), 'dropped', 'model_info shows status dropped');
SELECT results_eq(
    $$SELECT version, deployed FROM aifactory.train('r', 'SELECT x1, x2, y FROM d', 'y', seed => 2, deploy => 'none')$$,
    $$VALUES (4, false)$$, 'r v4, deploy => none');
SELECT is(pg_temp.deployed('r'), 1, 'deploy => none left r serving v1');
SELECT lives_ok($$SELECT aifactory.drop_model('r', 4)$$, 'drop the newest version, r v4');
SELECT results_eq(
    $$SELECT version FROM aifactory.train('r', 'SELECT x1, x2, y FROM d', 'y', seed => 3, deploy => 'none')$$,
    $$VALUES (5)$$, 'the next version after dropping v4 is 5: numbers are never reused');
SELECT results_eq($$SELECT version FROM aifactory.deploy('r', 'latest')$$, $$VALUES (5)$$,
                  'deploy(r, latest): v5');
SELECT results_eq($$SELECT version FROM aifactory.deploy('r', 'best')$$,
                  $$SELECT m.version FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
                    WHERE p.name = 'r' AND m.status = 'ready'
                    ORDER BY (m.metrics ->> 'r2')::float8 DESC LIMIT 1$$,
                  'deploy(r, best): the ready version with the highest r2');
SELECT is(pg_temp.new_audit(),
          format('train r v4; drop_model r v4; train r v5; deploy r v5; deploy r v%s', pg_temp.deployed('r')),
          'audit: train, drop_model, deploys');

-- ---- the views ---------------------------------------------------------------

SELECT results_eq(
    $$SELECT project, deployed_version, algorithm, key_metric, versions FROM aifactory.overview ORDER BY project$$,
    $$VALUES ('a'::text, 1, 'linear'::text, 'r2'::text, 3::bigint), ('b', 1, 'linear', 'r2', 2),
             ('r', (SELECT m.version FROM aifactory.deployments d JOIN aifactory.models m ON m.id = d.model_id
                    JOIN aifactory.projects p ON p.id = d.project_id WHERE p.name = 'r' ORDER BY d.id DESC LIMIT 1),
              'linear', 'r2', 5)$$,
    'overview: one row per project with the deployed version');
SELECT results_eq(
    $$SELECT key_metric_value, train_rows FROM aifactory.overview WHERE project = 'a'$$,
    $$SELECT (metrics ->> 'r2')::float8, train_rows FROM aifactory.models m
      JOIN aifactory.projects p ON p.id = m.project_id WHERE p.name = 'a' AND version = 1$$,
    'overview: key metric and rows of the deployed model');
SELECT is((SELECT count(*) FROM (SELECT project, version, metric FROM aifactory.model_metrics
                                 GROUP BY 1, 2, 3 HAVING count(*) > 1) dup),
          0::bigint, 'model_metrics: at most one row per model and metric');
SELECT is((SELECT count(*) FROM aifactory.model_metrics mm
           JOIN aifactory.projects p ON p.name = mm.project
           JOIN aifactory.models m ON m.project_id = p.id AND m.version = mm.version
           WHERE mm.value IS DISTINCT FROM (m.metrics ->> mm.metric)::float8),
          0::bigint, 'model_metrics: every value is the model''s metric');
SELECT is((SELECT count(*) FROM aifactory.models m, jsonb_each(m.metrics) e
           WHERE jsonb_typeof(e.value) = 'number'),
          (SELECT count(*) FROM aifactory.model_metrics),
          'model_metrics: one row per numeric metric of every model');
SELECT bag_has($$SELECT metric FROM aifactory.model_metrics WHERE project = 'a' AND version = 1$$,
               $$VALUES ('r2'), ('rmse'), ('mae'), ('train_rows'), ('test_rows'), ('fit_seconds')$$,
               'model_metrics: r2, rmse, mae, row counts and fit_seconds');
SELECT bag_hasnt($$SELECT metric FROM aifactory.model_metrics$$,
                 $$VALUES ('split'), ('evaluated_on')$$,
                 'model_metrics: no rows for non-numeric metrics');
SELECT is((SELECT count(*) FROM aifactory.model_metrics WHERE project = 'r' AND version IN (2, 4)
           AND metric = 'r2'), 2::bigint, 'model_metrics keeps the metrics of dropped versions');

-- ---- export and import -------------------------------------------------------

SELECT aifactory.export_model('a', 1) AS export_a1 \gset
SELECT is(aifactory.import_model('a_copy', :'export_a1'::bytea), 1, 'import into a new project: version 1');
SELECT is(aifactory.import_model('b', :'export_a1'::bytea), 3, 'import into an existing project: its next version');
SELECT is(pg_temp.new_audit(), 'create_project a_copy; import_model a_copy v1; import_model b v3',
          'audit: project creation and imports');
SELECT is((SELECT detail ->> 'from_project' FROM aifactory.audit_log
           WHERE action = 'import_model' AND project = 'a_copy'),
          'a', 'the import''s audit entry names the project it came from');
SELECT is(pg_temp.deployed('a_copy'), NULL, 'an import does not deploy');
SELECT results_eq(
    $$SELECT m.algorithm, m.hyperparams, m.features, m.metrics, m.source, m.target, m.train_rows, m.model
      FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
      WHERE p.name = 'a_copy' AND m.version = 1$$,
    $$SELECT m.algorithm, m.hyperparams, m.features, m.metrics, m.source, m.target, m.train_rows, m.model
      FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
      WHERE p.name = 'a' AND m.version = 1$$,
    'the imported model has the original''s metadata and bytes');
SELECT is((SELECT count(*) FROM d
           WHERE id <= 100
             AND aifactory.predict('a_copy', 1, ARRAY[x1, x2]) IS DISTINCT FROM aifactory.predict('a', 1, ARRAY[x1, x2])),
          0::bigint, 'the import predicts exactly as the original on 100 rows');
SELECT results_eq($$SELECT version FROM aifactory.deploy('a_copy', 1)$$, $$VALUES (1)$$, 'deploy the import');
SELECT is((SELECT count(*) FROM d
           WHERE id <= 100
             AND aifactory.predict('a_copy', d) IS DISTINCT FROM aifactory.predict('a', 1, d)),
          0::bigint, 'the deployed import predicts exactly as the original (row form)');
SELECT is((SELECT count(*) FROM d
           WHERE id <= 100
             AND aifactory.predict('b', 3, d) IS DISTINCT FROM aifactory.predict('a', 1, d)),
          0::bigint, 'so does the import into b');
SELECT is(pg_temp.new_audit(), 'deploy a_copy v1', 'audit: the deploy of the import');

-- ---- explicit versions -------------------------------------------------------

SELECT results_eq($$SELECT version FROM aifactory.deploy('a', 3)$$, $$VALUES (3)$$, 'deploy a v3 (x2 only)');
SELECT is((SELECT count(*) FROM d
           WHERE aifactory.predict('a', 1, d) IS DISTINCT FROM aifactory.predict('a_copy', d)),
          0::bigint, 'predict(a, 1, row) uses v1 while v3 is deployed');
SELECT is((SELECT count(*) FROM d WHERE abs(aifactory.predict('a', d) - aifactory.predict('a', 1, d)) > 0.1),
          (SELECT count(*) FROM d WHERE abs(aifactory.predict('a', 3, d) - aifactory.predict('a', 1, d)) > 0.1),
          'predict(a, row) uses the deployed v3');
SELECT cmp_ok((SELECT count(*) FROM d WHERE abs(aifactory.predict('a', d) - aifactory.predict('a', 1, d)) > 0.1),
              '>', 100::bigint, 'v1 and v3 predict clearly differently');
SELECT is(
    (SELECT array_agg(aifactory.predict('a', v, r) ORDER BY n)
     FROM (SELECT * FROM d WHERE id = 1) r,
          unnest(ARRAY[1, 3, 2, 1, 3]) WITH ORDINALITY AS u(v, n)),
    (SELECT ARRAY[aifactory.predict('a', 1, r), aifactory.predict('a', 3, r), aifactory.predict('a', 2, r),
                  aifactory.predict('a', 1, r), aifactory.predict('a', 3, r)]
     FROM (SELECT * FROM d WHERE id = 1) r),
    'a version that changes from row to row is honoured on every row');
SELECT is(
    (SELECT array_agg(aifactory.predict(p, r) ORDER BY n)
     FROM (SELECT * FROM d WHERE id = 1) r,
          unnest(ARRAY['a', 'a_copy', 'a', 'b']) WITH ORDINALITY AS u(p, n)),
    (SELECT ARRAY[aifactory.predict('a', 3, r), aifactory.predict('a', 1, r), aifactory.predict('a', 3, r),
                  aifactory.predict('b', 1, r)]
     FROM (SELECT * FROM d WHERE id = 1) r),
    'a project that changes from row to row is honoured on every row');
-- The explicit version against the coefficients (read from the model bytes).
SELECT ok(abs(aifactory.predict('b', 2, ARRAY[0.25, 0.75]::float8[])
              - (SELECT sum(estimate * CASE feature WHEN 'intercept' THEN 1 WHEN 'x1' THEN 0.25 ELSE 0.75 END)
                 FROM aifactory.coefficients('b', 2))) < 1e-9,
          'predict(b, 2, x) = intercept + coefficients of b v2 . x');

-- ---- read-only transaction ---------------------------------------------------
-- Deploy first so that the deployment cache is cold; b v2 was never used to
-- predict, so its model is read from the registry inside the transaction.

SELECT results_eq($$SELECT version FROM aifactory.deploy('b', 2)$$, $$VALUES (2)$$, 'deploy b v2');
SELECT sum(estimate * CASE feature WHEN 'intercept' THEN 1 WHEN 'x1' THEN 0.5 ELSE 0.25 END) AS b2_expected
FROM aifactory.coefficients('b', 2) \gset
SELECT aifactory.predict('a', 1, d) AS a1_expected FROM d WHERE id = 5 \gset
START TRANSACTION READ ONLY;
SELECT is(current_setting('transaction_read_only'), 'on', 'in a read-only transaction');
SELECT ok(abs(aifactory.predict('b', ARRAY[0.5, 0.25]::float8[]) - :b2_expected) < 1e-9,
          'predict with the deployed model works read-only');
SELECT is(aifactory.predict('a', 1, d), :a1_expected::float8, 'predict with an explicit version works read-only')
FROM d WHERE id = 5;
SELECT is((aifactory.model_info('b') ->> 'version')::int, 2, 'model_info works read-only');
SELECT throws_ok($$SELECT * FROM aifactory.train('ro', 'd', 'y')$$, '25006', NULL,
                 'train in a read-only transaction: 25006');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('b', 1)$$, '25006', NULL,
                 'deploy in a read-only transaction: 25006');
COMMIT;
SELECT is(pg_temp.new_audit(), 'deploy a v3; deploy b v2', 'audit: nothing from the read-only transaction');

-- ---- audit log, all of it ----------------------------------------------------

SELECT is((SELECT count(*) FROM aifactory.audit_log WHERE role <> current_user OR at IS NULL),
          0::bigint, 'every audit entry names the acting role and a time');
SELECT is((SELECT count(*) FROM aifactory.audit_log WHERE action = 'train'), 10::bigint,
          '10 trains, 10 train entries');
SELECT is((SELECT count(*) FROM aifactory.audit_log a
           WHERE action = 'train'
             AND (detail ->> 'algorithm' IS NULL OR (detail ->> 'train_rows')::bigint <= 0
                  OR detail ->> 'source' NOT LIKE 'SELECT%')),
          0::bigint, 'train entries carry the algorithm, row count and source');

SELECT * FROM finish();

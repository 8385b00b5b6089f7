-- Who may do what (DESIGN.md section 3, Governance): only the project's
-- owner, a member of the owning role or a superuser trains into, deploys,
-- rolls back or drops models of a project; everyone may read the registry
-- and predict; nobody writes the registry tables directly; train() reads
-- its source with the caller's privileges; the audit log names the role
-- that acted.
--
-- Roles are cluster-wide: everything runs in one transaction that is rolled
-- back at the end, so the roles never outlive the test.

SET client_min_messages = warning;
BEGIN;
SELECT plan(63);

-- ---- roles and data ----------------------------------------------------------

CREATE ROLE aif_tap_alice;
CREATE ROLE aif_tap_bob;
CREATE ROLE aif_tap_carol;
GRANT aif_tap_alice TO aif_tap_carol;     -- carol is a member of alice (INHERIT)

SELECT setseed(0.31) AS seeded \gset
CREATE TABLE alice_data AS
SELECT i AS id, random() AS x1, random() AS x2 FROM generate_series(1, 200) i;
ALTER TABLE alice_data ADD COLUMN y double precision;
UPDATE alice_data SET y = 1 + 2 * x1 - 3 * x2 + 0.1 * random();
ALTER TABLE alice_data OWNER TO aif_tap_alice;
CREATE TABLE bob_data AS SELECT x1, x2, -y AS y FROM alice_data;
ALTER TABLE bob_data OWNER TO aif_tap_bob;
CREATE TABLE secret AS SELECT x1, x2, y FROM alice_data;              -- postgres's, no grants
CREATE TABLE partly_secret AS SELECT x1, x2, y FROM alice_data;
GRANT SELECT (x1, y) ON partly_secret TO aif_tap_bob;                  -- not x2

CREATE FUNCTION pg_temp.registry_counts() RETURNS text LANGUAGE sql AS $$
    SELECT format('projects=%s models=%s deployments=%s audit_log=%s',
                  (SELECT count(*) FROM aifactory.projects),
                  (SELECT count(*) FROM aifactory.models),
                  (SELECT count(*) FROM aifactory.deployments),
                  (SELECT count(*) FROM aifactory.audit_log))
$$;

-- ---- alice trains her project ------------------------------------------------

SET ROLE aif_tap_alice;
SELECT results_eq($$SELECT version, deployed FROM aifactory.train('alice_p', 'alice_data', 'y', features => ARRAY['x1', 'x2'], seed => 1)$$,
                  $$VALUES (1, true)$$, 'alice trains alice_p v1 from her table');
SELECT results_eq($$SELECT version, deployed FROM aifactory.train('alice_p', 'alice_data', 'y', features => ARRAY['x1', 'x2'], seed => 2, deploy => 'none')$$,
                  $$VALUES (2, false)$$, 'alice trains alice_p v2');
SELECT aifactory.predict('alice_p', ARRAY[0.3, 0.6]::float8[]) AS alice_pred \gset
SELECT aifactory.export_model('alice_p', 1) AS alice_export \gset
RESET ROLE;

SELECT is((SELECT owner::text FROM aifactory.projects WHERE name = 'alice_p'), 'aif_tap_alice',
          'alice_p is owned by alice');
SELECT results_eq($$SELECT action, role FROM aifactory.audit_log WHERE project = 'alice_p' ORDER BY id$$,
                  $$VALUES ('create_project'::text, 'aif_tap_alice'::text), ('train', 'aif_tap_alice'),
                           ('deploy', 'aif_tap_alice'), ('train', 'aif_tap_alice')$$,
                  'the audit log names alice for her project, trains and deploy');
SELECT results_eq($$SELECT DISTINCT created_by FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
                    WHERE p.name = 'alice_p'$$,
                  $$VALUES ('aif_tap_alice'::text)$$, 'models.created_by is alice');
SELECT results_eq($$SELECT deployed_by FROM aifactory.deployments d JOIN aifactory.projects p ON p.id = d.project_id
                    WHERE p.name = 'alice_p'$$,
                  $$VALUES ('aif_tap_alice'::text)$$, 'deployments.deployed_by is alice');

-- ---- bob, who is not a member of alice --------------------------------------

SELECT pg_temp.registry_counts() AS counts_before_bob \gset
SET ROLE aif_tap_bob;
SELECT throws_ok($$SELECT * FROM aifactory.deploy('alice_p', 2)$$, '42501', NULL,
                 'bob cannot deploy a version of alice_p');
SELECT throws_like($$SELECT * FROM aifactory.deploy('alice_p', 2)$$, '%alice_p%',
                   'the error names the project');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('alice_p', 'latest')$$, '42501', NULL,
                 'bob cannot deploy alice_p by strategy');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('alice_p', 'rollback')$$, '42501', NULL,
                 'bob cannot deploy(alice_p, rollback)');
SELECT throws_ok($$SELECT * FROM aifactory.rollback('alice_p')$$, '42501', NULL,
                 'bob cannot roll back alice_p');
SELECT throws_ok($$SELECT aifactory.drop_model('alice_p', 2)$$, '42501', NULL,
                 'bob cannot drop a model of alice_p');
SELECT throws_ok($$SELECT * FROM aifactory.train('alice_p', 'bob_data', 'y', seed => 1)$$, '42501', NULL,
                 'bob cannot train into alice_p, even from his own table');
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'alice_p', :'alice_export'), '42501', NULL,
                 'bob cannot import a model into alice_p');

-- the registry tables, directly
SELECT throws_ok($$INSERT INTO aifactory.projects (name, task, owner) VALUES ('bob_fake', 'regression', 'aif_tap_bob')$$,
                 '42501', NULL, 'bob cannot INSERT into projects');
SELECT throws_ok($$UPDATE aifactory.projects SET owner = 'aif_tap_bob' WHERE name = 'alice_p'$$,
                 '42501', NULL, 'bob cannot UPDATE projects (take over alice_p)');
SELECT throws_ok($$DELETE FROM aifactory.projects WHERE name = 'alice_p'$$,
                 '42501', NULL, 'bob cannot DELETE from projects');
SELECT throws_ok($$INSERT INTO aifactory.models (project_id, version, algorithm, model)
                   SELECT project_id, 99, algorithm, model FROM aifactory.models LIMIT 1$$,
                 '42501', NULL, 'bob cannot INSERT into models');
SELECT throws_ok($$UPDATE aifactory.models SET metrics = '{"r2": 1}'$$,
                 '42501', NULL, 'bob cannot UPDATE models');
SELECT throws_ok($$DELETE FROM aifactory.models$$,
                 '42501', NULL, 'bob cannot DELETE from models');
SELECT throws_ok($$INSERT INTO aifactory.deployments (project_id, model_id, strategy)
                   SELECT project_id, id, 'version' FROM aifactory.models WHERE version = 2 LIMIT 1$$,
                 '42501', NULL, 'bob cannot INSERT into deployments (deploy behind the functions'' back)');
SELECT throws_ok($$UPDATE aifactory.deployments SET model_id = model_id$$,
                 '42501', NULL, 'bob cannot UPDATE deployments');
SELECT throws_ok($$DELETE FROM aifactory.deployments$$,
                 '42501', NULL, 'bob cannot DELETE from deployments');
SELECT throws_ok($$INSERT INTO aifactory.audit_log (action, project) VALUES ('train', 'alice_p')$$,
                 '42501', NULL, 'bob cannot INSERT into audit_log');
SELECT throws_ok($$UPDATE aifactory.audit_log SET role = 'nobody'$$,
                 '42501', NULL, 'bob cannot UPDATE audit_log');
SELECT throws_ok($$DELETE FROM aifactory.audit_log$$,
                 '42501', NULL, 'bob cannot DELETE from audit_log');
SELECT throws_ok($$TRUNCATE aifactory.audit_log$$,
                 '42501', NULL, 'bob cannot TRUNCATE audit_log');
SELECT throws_ok($$SELECT nextval('aifactory.models_id_seq')$$,
                 '42501', NULL, 'bob cannot advance the registry''s sequences');

-- what bob may do: read the registry, predict
SELECT is((SELECT deployed_version FROM aifactory.overview WHERE project = 'alice_p'), 1,
          'bob reads the overview view');
SELECT cmp_ok((SELECT count(*) FROM aifactory.model_metrics WHERE project = 'alice_p'), '>', 0::bigint,
              'bob reads the model_metrics view');
SELECT lives_ok($$SELECT count(*) FROM aifactory.projects, aifactory.models, aifactory.deployments, aifactory.audit_log$$,
                'bob reads the registry tables');
SELECT is(aifactory.predict('alice_p', ARRAY[0.3, 0.6]::float8[]), :alice_pred::float8,
          'bob predicts with alice_p, as alice does');
SELECT cmp_ok((SELECT count(*) FROM bob_data WHERE aifactory.predict('alice_p', 2, bob_data) IS NOT NULL),
              '=', 200::bigint, 'bob predicts with an explicit version of alice_p (row form)');
SELECT isnt(aifactory.export_model('alice_p', 1), NULL, 'bob may export alice''s model (the registry is readable)');

-- a source bob may not read
SELECT throws_ok($$SELECT * FROM aifactory.train('bob_secret', 'secret', 'y', seed => 1)$$, '42501', NULL,
                 'train on a table bob cannot read: 42501');
SELECT throws_ok($$SELECT * FROM aifactory.train('bob_secret', 'SELECT x1, x2, y FROM secret', 'y', seed => 1)$$,
                 '42501', NULL, 'train on a query over a table bob cannot read: 42501');
SELECT throws_ok($$SELECT * FROM aifactory.train('bob_secret', 'partly_secret', 'y', seed => 1)$$, '42501', NULL,
                 'train using a column bob cannot read: 42501');
SELECT is(pg_temp.registry_counts(), :'counts_before_bob',
          'nothing of what bob was refused left a trace in the registry');
-- bob may read x1 and y of partly_secret, and asks for just those.
SELECT lives_ok($$SELECT * FROM aifactory.train('bob_cols', 'SELECT x1, y FROM partly_secret', 'y', seed => 1)$$,
                'train on the columns bob may read, as a query');
SELECT lives_ok($$SELECT * FROM aifactory.train('bob_cols', 'partly_secret', 'y', features => ARRAY['x1'], seed => 1)$$,
                'train on the columns bob may read, as a table with features listed');

-- bob's own project
SELECT results_eq($$SELECT version, deployed FROM aifactory.train('bob_p', 'bob_data', 'y', seed => 1)$$,
                  $$VALUES (1, true)$$, 'bob trains his own project');
SELECT results_eq($$SELECT version FROM aifactory.deploy('bob_p', 1)$$, $$VALUES (1)$$,
                  'bob deploys his own project');
RESET ROLE;

SELECT is((SELECT owner::text FROM aifactory.projects WHERE name = 'bob_p'), 'aif_tap_bob', 'bob_p is owned by bob');
SELECT is((SELECT count(*) FROM aifactory.audit_log WHERE role = 'aif_tap_bob' AND project NOT IN ('bob_p', 'bob_cols')),
          0::bigint, 'the audit log has no entry by bob outside his own projects');
SELECT is((SELECT count(*) FROM aifactory.projects WHERE name = 'bob_secret'), 0::bigint,
          'the refused train on secret registered no project');
SELECT results_eq($$SELECT action, version FROM aifactory.audit_log WHERE project = 'bob_p' AND role = 'aif_tap_bob' ORDER BY id$$,
                  $$VALUES ('create_project'::text, NULL::int), ('train', 1), ('deploy', 1), ('deploy', 1)$$,
                  'the audit log names bob for his project');
SELECT is((SELECT deployed_version FROM aifactory.overview WHERE project = 'alice_p'), 1,
          'alice_p still serves v1');

SET ROLE aif_tap_alice;
SELECT throws_ok($$SELECT * FROM aifactory.deploy('bob_p', 1)$$, '42501', NULL, 'alice cannot deploy bob_p');
SELECT throws_ok($$SELECT * FROM aifactory.train('bob_p', 'alice_data', 'y')$$, '42501', NULL,
                 'alice cannot train into bob_p');
RESET ROLE;

-- ---- carol, a member of alice -----------------------------------------------

SET ROLE aif_tap_carol;
SELECT results_eq($$SELECT version FROM aifactory.deploy('alice_p', 2)$$, $$VALUES (2)$$,
                  'carol, a member of alice, deploys alice_p v2');
SELECT results_eq($$SELECT version FROM aifactory.rollback('alice_p')$$, $$VALUES (1)$$,
                  'carol rolls alice_p back to v1');
SELECT results_eq($$SELECT version FROM aifactory.train('alice_p', 'alice_data', 'y', features => ARRAY['x1'], seed => 3, deploy => 'none')$$,
                  $$VALUES (3)$$, 'carol trains alice_p v3');
SELECT lives_ok($$SELECT aifactory.drop_model('alice_p', 3)$$, 'carol drops alice_p v3');
SELECT throws_ok($$SELECT * FROM aifactory.deploy('bob_p', 1)$$, '42501', NULL,
                 'carol cannot deploy bob_p');
RESET ROLE;

SELECT results_eq($$SELECT action, version, role, detail ->> 'strategy' FROM aifactory.audit_log
                    WHERE project = 'alice_p' AND role = 'aif_tap_carol' ORDER BY id$$,
                  $$VALUES ('deploy'::text, 2, 'aif_tap_carol'::text, 'version'::text),
                           ('deploy', 1, 'aif_tap_carol', 'rollback'),
                           ('train', 3, 'aif_tap_carol', NULL),
                           ('drop_model', 3, 'aif_tap_carol', NULL)$$,
                  'the audit log names carol for what she did');
SELECT results_eq($$SELECT d.deployed_by, m.version FROM aifactory.deployments d JOIN aifactory.models m ON m.id = d.model_id
                    JOIN aifactory.projects p ON p.id = d.project_id WHERE p.name = 'alice_p' ORDER BY d.id$$,
                  $$VALUES ('aif_tap_alice'::text, 1), ('aif_tap_carol', 2), ('aif_tap_carol', 1)$$,
                  'deployments.deployed_by names carol for her deploys');
SELECT is((SELECT created_by FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
           WHERE p.name = 'alice_p' AND m.version = 3), 'aif_tap_carol', 'models.created_by is carol for v3');
SELECT is((SELECT owner::text FROM aifactory.projects WHERE name = 'alice_p'), 'aif_tap_alice',
          'alice_p is still owned by alice');

-- ---- the superuser -----------------------------------------------------------

SELECT results_eq($$SELECT version FROM aifactory.deploy('alice_p', 2)$$, $$VALUES (2)$$,
                  'a superuser deploys alice_p');
SELECT results_eq($$SELECT version FROM aifactory.deploy('bob_p', 1)$$, $$VALUES (1)$$,
                  'a superuser deploys bob_p');
SELECT is((SELECT role FROM aifactory.audit_log ORDER BY id DESC LIMIT 1), current_user::text,
          'the audit log names the superuser');

-- a role without inheritance acts only after SET ROLE
CREATE ROLE aif_tap_dave NOINHERIT;
GRANT aif_tap_alice TO aif_tap_dave;
SET ROLE aif_tap_dave;
SELECT throws_ok($$SELECT * FROM aifactory.deploy('alice_p', 1)$$, '42501', NULL,
                 'dave, a NOINHERIT member of alice, cannot deploy as himself');
SET ROLE aif_tap_alice;
SELECT results_eq($$SELECT version FROM aifactory.deploy('alice_p', 1)$$, $$VALUES (1)$$,
                  'after SET ROLE alice he can');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

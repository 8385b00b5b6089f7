-- The feature store (src/features/): point-in-time training sets compared
-- row for row with a brute-force reference on randomized events (equal
-- event times broken by the created time, ttl edges exactly at the
-- boundary, late-arriving rows, entities missing from a view), the plan
-- of the generated SQL, incremental materialize, online lookups, lineage,
-- predict_online, and every error a user can hit.
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.

SET client_min_messages = warning;
SELECT plan(63);

SELECT setseed(0.42);

-- View a: entities 1..40, events on an hourly grid (so that several share
-- an instant), a unique created time (ingestion: the event time plus a lag)
-- that breaks those ties; ttl 24 hours.
CREATE TABLE events_a (entity_id int, event_time timestamptz, created timestamptz,
                       x float8, cat text);
INSERT INTO events_a
SELECT e, t, t + (lag_min || ' minutes')::interval + i * interval '1 microsecond',
       round((random() * 100)::numeric, 2)::float8, (ARRAY['red', 'green', 'blue'])[1 + (i % 3)]
FROM (SELECT i, 1 + (random() * 39)::int AS e,
             '2024-01-01'::timestamptz + (random() * 240)::int * interval '1 hour' AS t,
             (random() * 90)::int AS lag_min
      FROM generate_series(1, 3000) i) g;

-- View b: entities 1..30 only, no created time, so (entity, time) unique;
-- a feature x that collides with view a's.
CREATE TABLE events_b (entity_id bigint, ts timestamp, x float8);
INSERT INTO events_b
SELECT DISTINCT ON (e, t) e, t, round((random() * 10)::numeric, 3)::float8
FROM (SELECT 1 + (random() * 29)::int AS e,
             '2024-01-01'::timestamp + (random() * 240)::int * interval '1 hour' AS t
      FROM generate_series(1, 1500)) g;

-- The spine: entities 1..45 (41..45 in no view), times on the same grid
-- (spine time = event time happens), plus rows exactly one ttl after an
-- event of view a (the boundary is inclusive).
CREATE TABLE spine (id serial, entity_id int, at timestamptz, label float8);
INSERT INTO spine (entity_id, at, label)
SELECT 1 + (random() * 44)::int, '2024-01-01'::timestamptz + (random() * 260)::int * interval '1 hour',
       round((random() * 50)::numeric, 1)::float8
FROM generate_series(1, 400);
INSERT INTO spine (entity_id, at, label)
SELECT entity_id, event_time + interval '24 hours', 1 FROM events_a ORDER BY created LIMIT 30;
CREATE INDEX ON events_a (entity_id, event_time, created);
CREATE INDEX ON events_b (entity_id, ts);

-- ---- feature views -------------------------------------------------------------

SELECT is((SELECT features FROM aifactory.create_feature_view('a', 'events_a', '{entity_id}', 'event_time',
                                    ttl => '24 hours', created_time => 'created')),
          '{x,cat}'::text[], 'create_feature_view: features default to the other columns');
SELECT is((SELECT source FROM aifactory.create_feature_view('b', 'events_b', '{entity_id}', 'ts', '{x}')),
          'public.events_b', 'the source is recorded schema-qualified');

SELECT throws_ok($$SELECT aifactory.create_feature_view('a', 'events_a', '{entity_id}', 'event_time')$$,
                 '42710', 'feature view "a" already exists', 'duplicate feature view name');
SELECT throws_ok($$SELECT aifactory.create_feature_view('c', 'events_a', '{entity_id}', 'event_time', '{x,nope}')$$,
                 '42703', NULL, 'unknown feature column');
SELECT throws_ok($$SELECT aifactory.create_feature_view('c', 'events_a', '{customer}', 'event_time')$$,
                 '42703', NULL, 'unknown entity key');
SELECT throws_ok($$SELECT aifactory.create_feature_view('c', 'events_a', '{entity_id}', 'cat')$$,
                 '42804', NULL, 'an event time that is not a timestamp');
SELECT throws_ok($$SELECT aifactory.create_feature_view('c', 'events_a', '{entity_id}', 'event_time', created_time => 'x')$$,
                 '42804', NULL, 'a created time that is not a timestamp');
SELECT throws_ok($$SELECT aifactory.create_feature_view('c', 'events_a', '{entity_id}', 'event_time', ttl => '0 s')$$,
                 '22023', 'ttl must be positive', 'a ttl that is not positive');
SELECT throws_ok($$SELECT aifactory.create_feature_view('c', 'events_a', '{entity_id}', 'event_time', '{entity_id}')$$,
                 '22023', NULL, 'a key listed as a feature');
SELECT throws_ok($$SELECT aifactory.create_feature_view('c', 'no_such_table', '{entity_id}', 'event_time')$$,
                 '42P01', NULL, 'an unknown source');
SELECT is((SELECT count(*) FROM aifactory.feature_views), 2::bigint, 'failed creations left nothing behind');

-- feature_stats against the same aggregates written by hand
SELECT results_eq(
    $$SELECT feature, count, nulls, round(mean::numeric, 6), round(std::numeric, 6), min, max, distinct_count
      FROM aifactory.feature_stats('a') ORDER BY feature$$,
    $$SELECT 'cat', count(cat), count(*) - count(cat), NULL::numeric, NULL::numeric, NULL::float8, NULL::float8, count(DISTINCT cat) FROM events_a
      UNION ALL
      SELECT 'x', count(x), count(*) - count(x), round(avg(x)::numeric, 6), round(stddev_samp(x)::numeric, 6), min(x), max(x), count(DISTINCT x) FROM events_a$$,
    'feature_stats: counts, NULLs, mean, std, min, max, distinct counts');
SELECT is((SELECT quantiles[3] FROM aifactory.feature_stats('a') WHERE feature = 'x'),
          (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM events_a),
          'feature_stats: the median is the third quantile');

-- ---- point-in-time training sets ---------------------------------------------------

SELECT is(aifactory.create_training_set('ts', 'spine', 'at', '{a,b}', 'label')::text, 'ts',
          'create_training_set makes a view named like the training set');
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'ts'::regclass AND attnum > 0 ORDER BY attnum),
          '{id,entity_id,at,label,a__x,cat,b__x}'::text[],
          'spine columns first, then features, prefixed only where names collide');

-- The reference: for each spine row, every event of the entity at or
-- before the spine time (and within the ttl), ranked by a window function.
CREATE VIEW reference AS
WITH ra AS (
    SELECT s.id, e.x, e.cat,
           row_number() OVER (PARTITION BY s.id ORDER BY e.event_time DESC, e.created DESC) AS rn
    FROM spine s JOIN events_a e ON e.entity_id = s.entity_id
     AND e.event_time <= s.at AND e.event_time >= s.at - interval '24 hours'),
rb AS (
    SELECT s.id, e.x,
           row_number() OVER (PARTITION BY s.id ORDER BY e.ts DESC) AS rn
    FROM spine s JOIN events_b e ON e.entity_id = s.entity_id AND e.ts <= s.at)
SELECT s.id, s.entity_id, s.at, s.label, ra.x AS a__x, ra.cat, rb.x AS b__x
FROM spine s
LEFT JOIN ra ON ra.id = s.id AND ra.rn = 1
LEFT JOIN rb ON rb.id = s.id AND rb.rn = 1;

SELECT is((SELECT count(*) FROM (SELECT * FROM ts EXCEPT ALL SELECT * FROM reference) d), 0::bigint,
          'training set: no row that the reference lacks');
SELECT is((SELECT count(*) FROM (SELECT * FROM reference EXCEPT ALL SELECT * FROM ts) d), 0::bigint,
          'training set: no reference row missing');
SELECT cmp_ok((SELECT count(*) FROM ts WHERE a__x IS NULL AND b__x IS NULL AND entity_id > 40), '>', 0::bigint,
              'entities in no view keep their spine row, with NULL features');
SELECT ok((SELECT count(*) FROM spine s JOIN events_a e ON e.entity_id = s.entity_id AND e.event_time = s.at - interval '24 hours') > 0
          AND (SELECT count(*) FROM (SELECT entity_id, event_time FROM events_a GROUP BY 1, 2 HAVING count(*) > 1) t) > 0,
          'the data has ttl-boundary spine rows and events at equal times');

-- a late-arriving row: an old event time, ingested now; the view sees it
INSERT INTO events_a
SELECT entity_id, at - interval '1 hour', now(), -1, 'late' FROM spine ORDER BY id LIMIT 20;
SELECT is((SELECT count(*) FROM ((SELECT * FROM ts EXCEPT ALL SELECT * FROM reference)
                                 UNION ALL (SELECT * FROM reference EXCEPT ALL SELECT * FROM ts)) d), 0::bigint,
          'after late-arriving rows the training set still equals the reference');
SELECT cmp_ok((SELECT count(*) FROM ts WHERE cat = 'late'), '>', 0::bigint, 'and late rows are used where they are the latest');

SELECT lives_ok($$SELECT aifactory.create_training_set('ts_table', 'spine', 'at', '{a,b}', 'label', materialized => true)$$,
                'materialized => true makes a table');
SELECT is((SELECT relkind::text FROM pg_class WHERE oid = 'ts_table'::regclass), 'r', 'a table');
SELECT is((SELECT count(*) FROM ((SELECT * FROM ts_table EXCEPT ALL SELECT * FROM reference)
                                 UNION ALL (SELECT * FROM reference EXCEPT ALL SELECT * FROM ts_table)) d), 0::bigint,
          'the materialized training set equals the reference');

-- errors
SELECT throws_ok($$SELECT aifactory.create_training_set('ts', 'spine', 'at', '{a}')$$,
                 '42710', 'training set "ts" already exists', 'duplicate training set name');
SELECT throws_ok($$SELECT aifactory.create_training_set('t2', 'spine', 'at', '{a,nope}')$$,
                 '42704', 'feature view "nope" does not exist', 'an unknown feature view');
SELECT throws_ok($$SELECT aifactory.create_training_set('t2', 'spine', 'when', '{a}')$$,
                 '42703', NULL, 'a spine without the spine time');
CREATE TABLE spine_text (entity_id text, at timestamptz);
SELECT throws_ok($$SELECT aifactory.create_training_set('t2', 'spine_text', 'at', '{a}')$$,
                 '42804', NULL, 'an entity key of the wrong type in the spine');
CREATE TABLE spine_nokey (customer int, at timestamptz);
SELECT throws_ok($$SELECT aifactory.create_training_set('t2', 'spine_nokey', 'at', '{a}')$$,
                 '42703', NULL, 'a spine without the entity key');
SELECT ok(to_regclass('t2') IS NULL AND NOT EXISTS (SELECT 1 FROM aifactory.training_sets WHERE name = 't2'),
          'failed creations left no view and no row');
SELECT throws_ok($$SELECT aifactory.drop_feature_view('a')$$, '2BP01', NULL,
                 'a feature view used by a training set cannot be dropped');

-- ---- the plan: one backward index scan per spine row ----------------------------

CREATE TABLE big_events (entity_id int, event_time timestamptz, v float8);
INSERT INTO big_events
SELECT 1 + (i % 2000), '2024-01-01'::timestamptz + (i / 2000) * interval '1 hour', i FROM generate_series(1, 100000) i;
CREATE INDEX big_events_entity_time ON big_events (entity_id, event_time);
CREATE TABLE big_spine AS
SELECT 1 + (i * 7 % 2000) AS entity_id, '2024-01-02'::timestamptz + (i % 24) * interval '1 hour' AS at
FROM generate_series(1, 2000) i;
ANALYZE big_events;
ANALYZE big_spine;
SELECT lives_ok($$SELECT aifactory.create_feature_view('big', 'big_events', '{entity_id}', 'event_time')$$, 'a bigger view');
SELECT lives_ok($$SELECT aifactory.create_training_set('big_ts', 'big_spine', 'at', '{big}')$$, 'and its training set');
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; out text := '';
BEGIN
    FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP out := out || r || E'\n'; END LOOP;
    RETURN out;
END $$;
SELECT matches(pg_temp.plan_of('SELECT * FROM big_ts'), 'Index Scan Backward using big_events_entity_time on big_events',
               'the generated view reads each spine row''s latest event by a backward index scan');
SELECT doesnt_match(pg_temp.plan_of('SELECT * FROM big_ts'), 'Seq Scan on big_events',
                    'and never scans the events sequentially');

-- ---- the online store ---------------------------------------------------------------

CREATE VIEW latest_a AS
SELECT DISTINCT ON (entity_id) entity_id, event_time, created, x, cat FROM events_a
ORDER BY entity_id, event_time DESC, created DESC;

SELECT throws_ok($$SELECT aifactory.online_features('a', '1')$$, '55000', NULL,
                 'online_features before materialize');
SELECT is((SELECT online_table FROM aifactory.materialize('a')), 'public.a_online', 'materialize creates a_online');
SELECT is((SELECT count(*) FROM ((SELECT * FROM a_online EXCEPT SELECT * FROM latest_a)
                                 UNION ALL (SELECT * FROM latest_a EXCEPT SELECT * FROM a_online)) d), 0::bigint,
          'the online table holds the latest row per entity');

-- newer rows, a late row that wins (entity 1: newest event time, old
-- ingestion order broken), a late row that loses (entity 2: older)
INSERT INTO events_a VALUES
    (3, '2024-03-01', now() + interval '1 day', 33, 'new'),
    (1, (SELECT max(event_time) + interval '1 minute' FROM events_a WHERE entity_id = 1), now() + interval '1 day', 11, 'late-wins'),
    (2, '2023-01-01', now() + interval '1 day', 22, 'late-loses'),
    (41, '2024-01-05', now() + interval '1 day', 41, 'new-entity');
SELECT watermark AS mark_a FROM aifactory.online_tables WHERE relation = 'public.a_online' \gset
SELECT is((SELECT rows_read FROM aifactory.materialize('a')),
          (SELECT count(*) FROM events_a WHERE created >= :'mark_a'::timestamptz),
          'an incremental run reads only the rows at or after the watermark');
SELECT cmp_ok((SELECT count(*) FROM events_a WHERE created >= :'mark_a'::timestamptz), '<', 100::bigint,
              'which are few');
SELECT is((SELECT count(*) FROM ((SELECT * FROM a_online EXCEPT SELECT * FROM latest_a)
                                 UNION ALL (SELECT * FROM latest_a EXCEPT SELECT * FROM a_online)) d), 0::bigint,
          'after an incremental run (late rows included) the online table equals the reference');
SELECT is(aifactory.online_features('a', '1')->>'cat', 'late-wins', 'online_features: a late row newer than the entity''s wins');
SELECT is(aifactory.online_features('a', '99'), NULL, 'online_features: an unknown entity is NULL');
SELECT throws_ok($$SELECT aifactory.online_features('a', '1', '2')$$, '22023', NULL,
                 'online_features with the wrong number of keys');

-- view b marks new rows by event time: a late row older than the watermark
-- waits for a full run
SELECT lives_ok($$SELECT aifactory.materialize('b')$$, 'materialize b');
INSERT INTO events_b VALUES (1, (SELECT max(ts) FROM events_b WHERE entity_id = 1) + interval '1 minute', 999);
INSERT INTO events_b VALUES (2, '2030-01-01', 5);
SELECT lives_ok($$SELECT aifactory.materialize('b')$$, 'materialize b incrementally');
SELECT is((SELECT x FROM b_online WHERE entity_id = 1) = 999, false,
          'without a created time, an incremental run misses a late row older than the watermark');
SELECT lives_ok($$SELECT aifactory.materialize('b', full => true)$$, 'materialize b in full');
SELECT is((SELECT x FROM b_online WHERE entity_id = 1), 999::float8,
          'full => true rebuilds the online table and picks it up');

-- ---- train on a training set: lineage, predict_online -------------------------------

SELECT is((SELECT version FROM aifactory.train('fs_model', 'ts', 'label', 'linear', seed => 1)), 1,
          'train() accepts a training set name');
SELECT is(aifactory.model_info('fs_model')->'lineage'->>'training_set', 'ts', 'model_info shows the training set');
SELECT is(aifactory.model_info('fs_model')->'lineage'->'feature_views'->0->>'created_time', 'created',
          'and the definitions of its feature views');
SELECT is(ARRAY(SELECT f->>'name' FROM jsonb_array_elements(aifactory.model_info('fs_model')->'features') f),
          '{a__x,cat,b__x}'::text[], 'the features default to the training set''s feature columns');
-- a fresh event for entity 5 (view a's ttl applies online too, from now())
INSERT INTO events_a VALUES (5, now() - interval '1 hour', now() + interval '2 days', 55, 'blue');
SELECT lives_ok($$SELECT aifactory.materialize('a')$$, 'materialize a fresh event');
SELECT is(round(aifactory.predict_online('fs_model', '5')::numeric, 9),
          round((SELECT aifactory.predict('fs_model', r) FROM
                 (SELECT 5 AS entity_id, a.x AS a__x, a.cat, b.x AS b__x
                  FROM (SELECT 1) d LEFT JOIN a_online a ON a.entity_id = 5
                  LEFT JOIN b_online b ON b.entity_id = 5) r)::numeric, 9),
          'predict_online equals predict on the same row');
SELECT is(round(aifactory.predict_online('fs_model', '6')::numeric, 9),
          round((SELECT aifactory.predict('fs_model', r) FROM
                 (SELECT 6 AS entity_id, NULL::float8 AS a__x, NULL::text AS cat, b.x AS b__x
                  FROM (SELECT 1) d LEFT JOIN b_online b ON b.entity_id = 6) r)::numeric, 9),
          'predict_online: features older than the ttl are NULL, as in a training set at spine time now()');
SELECT throws_ok($$SELECT aifactory.predict_online('plain', '1')$$, '55000', NULL,
                 'predict_online with a model not trained on a training set')
FROM aifactory.train('plain', 'SELECT a__x, label FROM reference', 'label', 'linear', seed => 1);

-- ---- ownership ------------------------------------------------------------------------

DO $$ BEGIN CREATE ROLE aif_fs_other; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO aif_fs_other;
SET ROLE aif_fs_other;
SELECT throws_ok($$SELECT aifactory.materialize('b')$$, '42501', NULL, 'only its owner materializes a feature view');
SELECT throws_ok($$SELECT aifactory.drop_feature_view('b')$$, '42501', NULL, 'only its owner drops it');
SELECT is(aifactory.online_features('a', '1')->>'cat', 'late-wins', 'a reader of the online table looks entities up');
RESET ROLE;
REVOKE SELECT ON a_online FROM aif_fs_other;
SET ROLE aif_fs_other;
SELECT throws_ok($$SELECT aifactory.online_features('a', '1')$$, '42501', NULL,
                 'online_features without SELECT on the online table: 42501');
RESET ROLE;
ALTER TABLE a_online ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON a_online TO aif_fs_other;
SET ROLE aif_fs_other;
SELECT is(aifactory.online_features('a', '1'), NULL, 'row security applies to the lookup (no policy: no rows)');
RESET ROLE;
ALTER TABLE a_online DISABLE ROW LEVEL SECURITY;
SELECT lives_ok($$SELECT aifactory.drop_training_set('big_ts'); SELECT aifactory.drop_feature_view('big')$$,
                'the owner drops a training set and then its feature view');

SELECT * FROM finish();

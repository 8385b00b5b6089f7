-- Corrupt and foreign model bytes are a clean error, never a crash
-- (DESIGN.md section 3, model bytes; section 5).  errors.sql flips bytes of
-- an export, which its CRC-32C catches; here the checksums are recomputed
-- after each change, so that the envelope and model parsers themselves
-- meet the damage: tampered metadata, unknown versions, and every byte of
-- the model's payload in turn.  A mutated model that still parses must be
-- usable for predict without a crash, and no error may be an internal one
-- (class XX other than XX001 data_corrupted).
--
-- Run by scripts/test in a fresh database that has pgtap and aifactory.

SET client_min_messages = warning;
SELECT plan(17);

SELECT setseed(0.41) AS seeded \gset
CREATE TABLE d AS SELECT i AS id, random() AS x1, random() AS x2,
                         (ARRAY['red', 'green', 'blue'])[1 + i % 3] AS color
FROM generate_series(1, 100) i;
ALTER TABLE d ADD COLUMN y double precision;
UPDATE d SET y = 1 + 2 * x1 - 3 * x2 + CASE color WHEN 'red' THEN 0.5 ELSE 0 END + 0.1 * random();
SELECT version AS v FROM aifactory.train('src', 'd', 'y', features => ARRAY['x1', 'x2', 'color'], seed => 1) \gset

-- ---- CRC-32C (Castagnoli, reflected), as PostgreSQL's pg_crc32c ---------------

CREATE FUNCTION pg_temp.crc32c(b bytea) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    tbl bigint[];
    c bigint;
    crc bigint := 4294967295;
BEGIN
    FOR n IN 0..255 LOOP
        c := n;
        FOR k IN 1..8 LOOP
            c := CASE WHEN c & 1 = 1 THEN (c >> 1) # 2197175160 ELSE c >> 1 END;
        END LOOP;
        tbl[n] := c;
    END LOOP;
    FOR i IN 0..length(b) - 1 LOOP
        crc := tbl[(crc # get_byte(b, i)) & 255] # (crc >> 8);
    END LOOP;
    RETURN crc # 4294967295;
END
$$;
CREATE FUNCTION pg_temp.be32(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT decode(lpad(to_hex(v), 8, '0'), 'hex')
$$;
CREATE FUNCTION pg_temp.le32(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea,
           0, (v & 255)::int), 1, ((v >> 8) & 255)::int), 2, ((v >> 16) & 255)::int), 3, ((v >> 24) & 255)::int)
$$;
CREATE FUNCTION pg_temp.get_be32(b bytea, pos int) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT (get_byte(b, pos)::bigint << 24) | (get_byte(b, pos + 1) << 16) | (get_byte(b, pos + 2) << 8) | get_byte(b, pos + 3)
$$;
CREATE FUNCTION pg_temp.get_le32(b bytea, pos int) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT (get_byte(b, pos + 3)::bigint << 24) | (get_byte(b, pos + 2) << 16) | (get_byte(b, pos + 1) << 8) | get_byte(b, pos)
$$;

-- An export's parts (layout in src/registry/exchange.c) ...
CREATE TEMP TABLE parts AS
WITH e AS (SELECT aifactory.export_model('src', :v) AS e)
SELECT e, pg_temp.get_be32(e, 4) AS env_version,
       convert_from(substring(e FROM 13 FOR pg_temp.get_be32(e, 8)::int), 'UTF8') AS meta,
       substring(e FROM 17 + pg_temp.get_be32(e, 8)::int
                 FOR pg_temp.get_be32(e, 12 + pg_temp.get_be32(e, 8)::int)::int) AS model
FROM e;
-- ... and how to put them together again with valid checksums.
CREATE FUNCTION pg_temp.seal_model(m bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(m FROM 1 FOR length(m) - 4)
           || pg_temp.le32(pg_temp.crc32c(substring(m FROM 1 FOR length(m) - 4)))
$$;
CREATE FUNCTION pg_temp.seal(meta text, model bytea, env_version int DEFAULT 1) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT body || pg_temp.be32(pg_temp.crc32c(body))
    FROM (SELECT 'AIFX'::bytea || pg_temp.be32(env_version)
                 || pg_temp.be32(length(convert_to(meta, 'UTF8'))) || convert_to(meta, 'UTF8')
                 || pg_temp.be32(length(model)) || model AS body) b
$$;

-- ---- the tools are right -------------------------------------------------------

SELECT is(pg_temp.crc32c(convert_to('123456789', 'UTF8')), 3808858755::bigint,
          'crc32c(''123456789'') is the standard check value 0xE3069283');
SELECT is(pg_temp.seal(meta, model), e, 'the export re-sealed from its parts is byte for byte the export')
FROM parts;
SELECT is(pg_temp.seal_model(model), model, 'the model bytes re-sealed are the model bytes')
FROM parts;
SELECT is(aifactory.import_model('ok', pg_temp.seal(meta, pg_temp.seal_model(model))), 1,
          'a re-sealed export imports')
FROM parts;

-- ---- tampered envelope and metadata ------------------------------------------

SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal(meta, model, 2)),
                 '0A000', NULL, 'envelope version 2: 0A000 feature_not_supported')
FROM parts;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal(jsonb_set(meta::jsonb, '{algorithm}', '"ridge"')::text, model)),
                 'XX001', NULL, 'metadata naming another algorithm than the model''s: XX001')
FROM parts;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal(jsonb_set(meta::jsonb, '{task}', '"classification"')::text, model)),
                 'XX001', NULL, 'metadata naming another task than the model''s: XX001')
FROM parts;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal((meta::jsonb - 'task')::text, model)),
                 'XX001', NULL, 'metadata without a task: XX001')
FROM parts;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal(left(meta, length(meta) / 2), model)),
                 '22P02', NULL, 'metadata that is not JSON: 22P02 (jsonb input), nothing registered')
FROM parts;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal(meta, pg_temp.seal_model(set_byte(model, 4, 9)))),
                 '0A000', NULL, 'model format version 9 (from the future): 0A000 feature_not_supported')
FROM parts;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal(meta, pg_temp.seal_model(set_byte(model, 6, 77)))),
                 'XX001', NULL, 'model bytes of an unknown algorithm: XX001')
FROM parts;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal(meta, pg_temp.seal_model('\x4149464d01000100'::bytea || pg_temp.le32(64)
                                                              || decode(repeat(md5('foreign'), 4), 'hex')
                                                              || '\x00000000'::bytea))),
                 'XX001', NULL, 'foreign payload behind a valid model header, checksums valid: XX001')
FROM parts;
SELECT throws_ok(format('SELECT aifactory.import_model(%L, %L::bytea)', 'bad',
                        pg_temp.seal(meta, pg_temp.seal_model('\x4149464d01000100'::bytea || pg_temp.le32(28)
                                                              || substring(model FROM 13 FOR 28) || '\x00000000'::bytea))),
                 'XX001', NULL, 'truncated model bytes, checksums valid: XX001')
FROM parts;
SELECT is((SELECT count(*) FROM aifactory.projects WHERE name = 'bad'), 0::bigint,
          'no project bad after the refused imports');

-- ---- every byte of the model, one at a time -------------------------------------
-- Each byte after the magic is inverted (b XOR 0xFF), the checksums are
-- recomputed, and the result is imported and, if that works, used to
-- predict.  Anything imported is rolled back.

CREATE TEMP TABLE fuzz (pos int, mask int, stage text, state text, message text);
DO $$
DECLARE
    m bytea := (SELECT model FROM parts);
    meta text := (SELECT meta FROM parts);
    mask int;
    stage text;
    st text;
    msg text;
BEGIN
    FOR pos IN 4 .. length(m) - 5 LOOP
        FOREACH mask IN ARRAY ARRAY[255, 1] LOOP
            stage := 'import';
            BEGIN
                PERFORM aifactory.import_model('fuzz',
                    pg_temp.seal(meta, pg_temp.seal_model(set_byte(m, pos, get_byte(m, pos) # mask))));
                stage := 'predict';
                PERFORM aifactory.predict('fuzz', 1, d) FROM d;
                stage := 'coefficients';
                PERFORM * FROM aifactory.coefficients('fuzz', 1);
                stage := 'model_info';
                PERFORM aifactory.model_info('fuzz', 1);
                RAISE EXCEPTION USING ERRCODE = 'AIF00', MESSAGE = 'worked';   -- undo the import
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
                INSERT INTO fuzz VALUES (pos, mask, stage, st, msg);
            END;
        END LOOP;
    END LOOP;
END
$$;

SELECT is((SELECT count(*) FROM fuzz), (SELECT 2 * (length(model) - 8)::bigint FROM parts),
          'every mutation of the model bytes was tried');
SELECT is((SELECT count(*) FROM fuzz WHERE pos < 12 AND stage = 'import' AND state <> 'AIF00'),
          16::bigint, 'every mutation of the header (version, algorithm, length) is refused at import');
SELECT is((SELECT string_agg(format('byte %s ^ %s, %s: %s %s', pos, mask, stage, state, message), '; ')
           FROM fuzz WHERE state LIKE 'XX%' AND state <> 'XX001'),
          NULL, 'no mutation led to an internal error');
SELECT diag(format('%s mutations: %s', (SELECT count(*) FROM fuzz),
                   (SELECT string_agg(format('%s at %s: %s', n, stage, state), ', ' ORDER BY n DESC)
                    FROM (SELECT stage, state, count(*) AS n FROM fuzz GROUP BY 1, 2) s)));

SELECT * FROM finish();

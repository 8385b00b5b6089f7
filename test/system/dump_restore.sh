#!/usr/bin/env bash
# pg_dump keeps the registry: after a plain-text dump restored with psql (and a custom-format
# dump restored with pg_restore) into new databases, projects, models (with their bytes),
# deployments and the audit log are all back, predictions are identical, the registry's
# sequences continue (a new train gets the next version and fresh ids), and deploys still
# reach predict().
set -euo pipefail

SRC=$PGDATABASE
PLAIN=${SRC}_plain
CUSTOM=${SRC}_custom

fail() {
	echo "FAIL: $*"
	exit 1
}
# q DB SQL
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
expect() {
	if [ "$2" != "$3" ]; then
		fail "$1: got '$2', expected '$3'"
	fi
	echo "ok: $1"
}
cleanup() {
	dropdb --if-exists --force "$PLAIN" >/dev/null 2>&1 || true
	dropdb --if-exists --force "$CUSTOM" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# ---- a registry with some history -------------------------------------------------------------

psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" >/dev/null <<'SQL'
SELECT setseed(0.53);
CREATE TABLE d AS
SELECT i AS id, random() AS x1, random() AS x2,
       (ARRAY['red', 'green', 'blue'])[1 + i % 3] AS color
FROM generate_series(1, 500) i;
ALTER TABLE d ADD COLUMN y double precision;
UPDATE d SET y = 1 + 2 * x1 - 3 * x2 + CASE color WHEN 'red' THEN 0.5 ELSE 0 END + 0.1 * random();

SELECT * FROM aifactory.train('p', 'd', 'y', features => ARRAY['x1', 'x2', 'color'], seed => 1);
SELECT * FROM aifactory.train('p', 'SELECT x1, x2, y FROM d', 'y', seed => 2, deploy => 'none');
SELECT * FROM aifactory.train('p', 'SELECT x1, y FROM d', 'y', seed => 3, deploy => 'none');
SELECT * FROM aifactory.deploy('p', 2);
SELECT * FROM aifactory.deploy('p', 1);
SELECT aifactory.drop_model('p', 3);
SELECT * FROM aifactory.train('r', 'SELECT x2, y FROM d', 'y', algorithm => 'ridge',
                              hyperparams => '{"alpha": 0.5}', seed => 4);
SELECT aifactory.import_model('p_copy', aifactory.export_model('p', 2));
SELECT * FROM aifactory.deploy('p_copy', 1);
SQL

# Everything that must come back, as fingerprints of the rows.
REGISTRY="
SELECT 'projects ' || count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s|%s', id, name, task, owner, created_at), ';' ORDER BY id))
  FROM aifactory.projects
UNION ALL
SELECT 'models ' || count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', id, project_id, version,
       algorithm, hyperparams, metrics, features, baseline, source, target, train_rows, status, created_by,
       created_at, md5(model)), ';' ORDER BY id))
  FROM aifactory.models
UNION ALL
SELECT 'models with bytes ' || count(*) FILTER (WHERE model IS NOT NULL) || ', dropped ' || count(*) FILTER (WHERE status = 'dropped')
  FROM aifactory.models
UNION ALL
SELECT 'deployments ' || count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s', id, project_id, model_id, alias, weight,
       strategy, deployed_by, deployed_at), ';' ORDER BY id))
  FROM aifactory.deployments
UNION ALL
SELECT 'audit_log ' || count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s', id, at, role, action, project, version, detail),
       ';' ORDER BY id))
  FROM aifactory.audit_log
UNION ALL
SELECT 'overview ' || string_agg(format('%s:%s', project, deployed_version), ' ' ORDER BY project) FROM aifactory.overview"
PREDICTIONS="
SELECT md5(string_agg(format('%s|%s|%s|%s|%s', aifactory.predict('p', d), aifactory.predict('p', 2, d),
                             aifactory.predict('p', 2, ARRAY[x1, x2]), aifactory.predict('r', d), aifactory.predict('p_copy', d)),
                      ';' ORDER BY id))
FROM d"
COEFFICIENTS="SELECT md5(string_agg(format('%s|%s|%s', feature, estimate, std_error), ';')) FROM aifactory.coefficients('p')"

src_registry=$(q "$SRC" "$REGISTRY")
src_predictions=$(q "$SRC" "$PREDICTIONS")
src_coefficients=$(q "$SRC" "$COEFFICIENTS")
src_max_model_id=$(q "$SRC" "SELECT max(id) FROM aifactory.models")
src_max_audit_id=$(q "$SRC" "SELECT max(id) FROM aifactory.audit_log")
echo "$src_registry"
expect "source: p, p_copy and r with the deployments made" \
	"$(q "$SRC" "SELECT string_agg(format('%s:%s', project, deployed_version), ' ' ORDER BY project) FROM aifactory.overview")" \
	"p:1 p_copy:1 r:1"

# check_restored DB HOW
check_restored() {
	local db=$1 how=$2 next
	expect "$how: registry tables are back, row for row" "$(q "$db" "$REGISTRY")" "$src_registry"
	expect "$how: predictions are identical" "$(q "$db" "$PREDICTIONS")" "$src_predictions"
	expect "$how: coefficients are identical" "$(q "$db" "$COEFFICIENTS")" "$src_coefficients"
	expect "$how: the deployments trigger is back" \
		"$(q "$db" "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'aifactory.deployments'::regclass AND NOT tgisinternal")" 1

	# the sequences continue
	next=$(q "$db" "SELECT version || ' ' || deployed FROM aifactory.train('p', 'SELECT x1, x2, y FROM d', 'y', seed => 5, deploy => 'none')")
	expect "$how: a new train of p is version 4, not deployed" "$next" "4 false"
	expect "$how: the new model got a fresh id" \
		"$(q "$db" "SELECT m.id > $src_max_model_id FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id
		            WHERE p.name = 'p' AND m.version = 4")" t
	expect "$how: a new project gets a fresh id and version 1" \
		"$(q "$db" "SELECT version FROM aifactory.train('new', 'SELECT x1, y FROM d', 'y', seed => 6)")" 1
	expect "$how: audit entries continue after the restored ones" \
		"$(q "$db" "SELECT string_agg(action || ' ' || project || coalesce(' v' || version, ''), '; ' ORDER BY id)
		            FROM aifactory.audit_log WHERE id > $src_max_audit_id")" \
		"train p v4; create_project new; train new v1; deploy new v1"

	# deploys still reach predict: p v2 has no color feature and predicts differently
	expect "$how: deploy p v4, then predict uses it" \
		"$(q "$db" "SELECT * FROM aifactory.deploy('p', 4)" >/dev/null
		   q "$db" "SELECT count(*) FROM d WHERE aifactory.predict('p', d) IS DISTINCT FROM aifactory.predict('p', 4, d)")" 0
}

# ---- plain dump, psql ----------------------------------------------------------------------------

pg_dump -Fp -f dump.sql "$SRC"
grep -q "setval('aifactory.models_id_seq'" dump.sql || fail "the plain dump has no setval for aifactory.models_id_seq"
createdb "$PLAIN"
psql -X -q -v ON_ERROR_STOP=1 -d "$PLAIN" -f dump.sql >restore_plain.log 2>&1 ||
	{ cat restore_plain.log; fail "psql -f dump.sql failed"; }
check_restored "$PLAIN" "plain dump"

# ---- custom dump, pg_restore ----------------------------------------------------------------

pg_dump -Fc -f dump.custom "$SRC"
createdb "$CUSTOM"
pg_restore --exit-on-error -d "$CUSTOM" dump.custom >restore_custom.log 2>&1 ||
	{ cat restore_custom.log; fail "pg_restore failed"; }
check_restored "$CUSTOM" "custom dump"

# the source is unchanged by all this
expect "source: registry unchanged" "$(q "$SRC" "$REGISTRY")" "$src_registry"
echo "dump and restore ok"

#!/usr/bin/env bash
# Parallel query: the linreg aggregate runs as Partial Aggregate in parallel workers under
# Gather, train()'s scans of the source run in parallel workers, and predict() works in
# parallel workers; linreg results, train()'s coefficients and metrics (same seed) and the
# sum of predictions agree between parallel and serial runs to 1e-9 relative.
set -euo pipefail

# Plans forced parallel (2 workers), or forced serial.
PAR="-c parallel_setup_cost=0 -c parallel_tuple_cost=0 -c min_parallel_table_scan_size=0
     -c min_parallel_index_scan_size=0 -c max_parallel_workers_per_gather=2 -c extra_float_digits=3"
SER="-c max_parallel_workers_per_gather=0 -c extra_float_digits=3"

fail() {
	echo "FAIL: $*"
	exit 1
}
qpar() { PGOPTIONS=$PAR psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
qser() { PGOPTIONS=$SER psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
expect() {
	if [ "$2" != "$3" ]; then
		fail "$1: got '$2', expected '$3'"
	fi
	echo "ok: $1"
}
# has_plan WHAT PLAN LINE-PATTERN...: the patterns occur in this order in PLAN
has_plan() {
	local what=$1 plan=$2 rest
	shift 2
	rest=$plan
	for pat in "$@"; do
		if ! grep -q -- "$pat" <<<"$rest"; then
			echo "$plan"
			fail "$what: no '$pat' (in order) in the plan above"
		fi
		rest=$(sed -n "/$pat/,\$p" <<<"$rest" | sed 1d)
	done
	echo "ok: $what"
}
# workers_launched WHAT PLAN: EXPLAIN ANALYZE shows workers that ran
workers_launched() {
	local n
	n=$(grep -o 'Workers Launched: [0-9]*' <<<"$2" | awk '{ s += $3 } END { print s + 0 }')
	if [ "$n" -lt 1 ]; then
		echo "$2"
		fail "$1: no parallel worker was launched"
	fi
	echo "ok: $1 ($n workers launched)"
}
# close WHAT A B: |A - B| <= 1e-9 * max(|A|, |B|), element-wise for '{...}' arrays
close() {
	local r
	r=$(psql -X -At -v ON_ERROR_STOP=1 -c "
		SELECT coalesce(string_agg(format('element %s: %s vs %s', i, a, b), '; '), '')
		FROM unnest('$2'::float8[], '$3'::float8[]) WITH ORDINALITY AS u(a, b, i)
		WHERE a IS NULL OR b IS NULL OR abs(a - b) > 1e-9 * greatest(abs(a), abs(b))")
	[ -z "$r" ] || fail "$1: differ: $r"
	[ "$2" != "{}" ] || fail "$1: nothing to compare"
	echo "ok: $1"
}

# ---- data: 300 000 rows, numeric features with some NULLs, a categorical one --------------

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT setseed(0.61);
CREATE TABLE t AS
SELECT i AS id, random() AS x1, random() * 10 AS x2,
       (ARRAY['red', 'green', 'blue'])[1 + i % 3] AS color
FROM generate_series(1, 300000) i;
ALTER TABLE t ADD COLUMN y double precision;
UPDATE t SET y = 1 + 2 * x1 - 0.3 * x2
                 + CASE color WHEN 'red' THEN 0.5 WHEN 'green' THEN -0.7 ELSE 0 END
                 + 0.1 * random();
UPDATE t SET x2 = NULL WHERE id % 1000 = 0;     -- imputed by train(), skipped by linreg
VACUUM ANALYZE t;
SQL

# ---- linreg ---------------------------------------------------------------------------------

LINREG="SELECT aifactory.linreg(y, ARRAY[x1, x2]) FROM t"
has_plan "linreg: Partial Aggregate under Gather" "$(qpar "EXPLAIN (COSTS OFF) $LINREG")" \
	"Finalize Aggregate" "Gather" "Partial Aggregate" "Parallel Seq Scan on t"
workers_launched "linreg runs in parallel workers" "$(qpar "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $LINREG")"
has_plan "linreg serial: no Gather" "$(qser "EXPLAIN (COSTS OFF) $LINREG")" "Aggregate" "Seq Scan on t"
if grep -q Gather <<<"$(qser "EXPLAIN (COSTS OFF) $LINREG")"; then
	fail "the serial plan has a Gather"
fi

for field in coef std_err t_stats; do
	close "linreg $field: parallel = serial" \
		"$(qpar "SELECT (r).$field FROM ($LINREG) s(r)")" "$(qser "SELECT (r).$field FROM ($LINREG) s(r)")"
done
close "linreg r2: parallel = serial" \
	"$(qpar "SELECT ARRAY[(r).r2] FROM ($LINREG) s(r)")" "$(qser "SELECT ARRAY[(r).r2] FROM ($LINREG) s(r)")"
expect "linreg num_rows: parallel = serial = rows without NULL" \
	"$(qpar "SELECT (r).num_rows FROM ($LINREG) s(r)") $(qser "SELECT (r).num_rows FROM ($LINREG) s(r)")" \
	"299700 299700"
expect "linreg recovers the slopes 2 and -0.3" \
	"$(qpar "SELECT abs((r).coef[2] - 2) < 0.01 AND abs((r).coef[3] + 0.3) < 0.01 FROM ($LINREG) s(r)")" t

# ---- train ----------------------------------------------------------------------------------
# auto_explain shows the plans of train()'s own scans (nested statements) to the client.

AUTO_EXPLAIN="LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_timing = off;
SET client_min_messages = log;
SET log_min_messages = fatal;  -- the plans go to the client, not the server log"

par_log=$(PGOPTIONS=$PAR psql -X -At -v ON_ERROR_STOP=1 2>&1 <<SQL
$AUTO_EXPLAIN
SELECT format('version %s', version) FROM aifactory.train('par', 'SELECT x1, x2, color, y FROM t', 'y', seed => 7, deploy => 'latest');
SQL
) || {
	echo "$par_log"
	fail "parallel train failed"
}
grep -q '^version 1$' <<<"$par_log" || {
	echo "$par_log"
	fail "parallel train: no version 1"
}
pass_plans=$(awk '/Query Text: SELECT aifactory._train_pass/,/^LOG:|^version/' <<<"$par_log")
[ -n "$pass_plans" ] || {
	echo "$par_log"
	fail "auto_explain showed no plan of a training pass"
}
has_plan "train's pass: Partial Aggregate under Gather" "$pass_plans" "Gather" "Partial Aggregate" "Parallel Seq Scan on t"
workers_launched "train's passes run in parallel workers" "$pass_plans"

ser_log=$(PGOPTIONS=$SER psql -X -At -v ON_ERROR_STOP=1 2>&1 <<SQL
$AUTO_EXPLAIN
SELECT format('version %s', version) FROM aifactory.train('ser', 'SELECT x1, x2, color, y FROM t', 'y', seed => 7, deploy => 'latest');
SQL
) || {
	echo "$ser_log"
	fail "serial train failed"
}
if grep -q 'Gather' <<<"$ser_log"; then
	echo "$ser_log"
	fail "the serial train used a parallel plan"
fi
echo "ok: serial train ran without Gather"

COEF="SELECT array_agg(%s ORDER BY feature) FROM aifactory.coefficients('%s')"
expect "train: same coefficient names" \
	"$(qser "SELECT array_agg(feature ORDER BY feature) FROM aifactory.coefficients('par')")" \
	"$(qser "SELECT array_agg(feature ORDER BY feature) FROM aifactory.coefficients('ser')")"
for col in estimate std_error t_stat; do
	# shellcheck disable=SC2059  # COEF is a format
	close "train $col: parallel = serial" "$(qser "$(printf "$COEF" "$col" par)")" "$(qser "$(printf "$COEF" "$col" ser)")"
done
METRICS="SELECT ARRAY[(metrics->>'r2')::float8, (metrics->>'rmse')::float8, (metrics->>'mae')::float8,
                      (metrics->>'train_r2')::float8]
         FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id WHERE p.name = '%s'"
# shellcheck disable=SC2059
close "train metrics (r2, rmse, mae, train_r2): parallel = serial" \
	"$(qser "$(printf "$METRICS" par)")" "$(qser "$(printf "$METRICS" ser)")"
ROWS="SELECT format('%%s %%s', metrics->>'train_rows', metrics->>'test_rows')
      FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id WHERE p.name = '%s'"
# shellcheck disable=SC2059
expect "train: same train/test split" "$(qser "$(printf "$ROWS" par)")" "$(qser "$(printf "$ROWS" ser)")"
FEATURES="SELECT jsonb_agg(f - 'impute' ORDER BY n) FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id,
          jsonb_array_elements(m.features) WITH ORDINALITY AS e(f, n) WHERE p.name = '%s'"
IMPUTE="SELECT array_agg((f->>'impute')::float8 ORDER BY n) FROM aifactory.models m JOIN aifactory.projects p ON p.id = m.project_id,
        jsonb_array_elements(m.features) WITH ORDINALITY AS e(f, n) WHERE p.name = '%s' AND f ? 'impute'"
# shellcheck disable=SC2059
expect "train: same features and levels" "$(qser "$(printf "$FEATURES" par)")" "$(qser "$(printf "$FEATURES" ser)")"
# shellcheck disable=SC2059
close "train: imputation means: parallel = serial" "$(qser "$(printf "$IMPUTE" par)")" "$(qser "$(printf "$IMPUTE" ser)")"

# ---- predict --------------------------------------------------------------------------------

for form in "aifactory.predict('par', t)" "aifactory.predict('par', 1, t)" \
	"aifactory.predict('ser', t)" "aifactory.predict('lin', ARRAY[x1, coalesce(x2, 0)])"; do
	if [ "$form" = "aifactory.predict('lin', ARRAY[x1, coalesce(x2, 0)])" ]; then
		qser "SELECT version FROM aifactory.train('lin', 'SELECT x1, x2, y FROM t WHERE x2 IS NOT NULL', 'y', seed => 3)" >/dev/null
	fi
	PREDICT="SELECT ARRAY[sum($form), count(*)] FROM t"
	has_plan "$form: Partial Aggregate under Gather" "$(qpar "EXPLAIN (COSTS OFF) $PREDICT")" \
		"Finalize Aggregate" "Gather" "Partial Aggregate" "Parallel Seq Scan on t"
	workers_launched "$form runs in parallel workers" "$(qpar "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $PREDICT")"
	close "sum of $form: parallel = serial" "$(qpar "$PREDICT")" "$(qser "$PREDICT")"
done
expect "predict: the models trained in parallel and serially agree on every row to 1e-9" \
	"$(qpar "SELECT count(*) FROM t WHERE abs(aifactory.predict('par', t) - aifactory.predict('ser', t))
	                                      > 1e-9 * greatest(abs(aifactory.predict('ser', t)), 1)")" 0

echo "parallel ok"

/*-------------------------------------------------------------------------
 *
 * linreg_agg.c
 *	  The linreg(y, x[]) aggregate: ordinary least squares in one pass.
 *
 * The state is the streaming QR of lsq.h, which merges, so the aggregate
 * has a combine function and a serialized (bytea) state and is PARALLEL
 * SAFE: parallel query splits the scan, and Citus can push the partial
 * aggregation to its workers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "algorithms/distributions.h"
#include "algorithms/lsq.h"
#include "catalog/pg_type.h"
#include "core/blas.h"
#include "core/preprocess.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(aifactory_linreg_transition);
PG_FUNCTION_INFO_V1(aifactory_linreg_final);
PG_FUNCTION_INFO_V1(aifactory_lsq_combine);
PG_FUNCTION_INFO_V1(aifactory_lsq_serialize);
PG_FUNCTION_INFO_V1(aifactory_lsq_deserialize);

Datum
aifactory_linreg_transition(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	LsqState   *st = PG_ARGISNULL(0) ? NULL : (LsqState *) PG_GETARG_POINTER(0);
	ArrayType  *arr;
	int			n;
	double	   *x;
	double		row[LSQ_MAX_COLS];

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_linreg_transition called in non-aggregate context");

	/* rows with a NULL anywhere are skipped, like MADlib's linregr */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	arr = PG_GETARG_ARRAYTYPE_P(2);
	if (ARR_HASNULL(arr))
		PG_RETURN_POINTER(st);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("x must be a one-dimensional array")));
	n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	if (n + 2 > LSQ_MAX_COLS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("linreg supports at most %d independent variables", LSQ_MAX_COLS - 2)));

	if (st == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggcxt);

		AifBlasPrepare();
		st = LsqCreate(n + 2);
		MemoryContextSwitchTo(old);
	}
	else if (st->d != n + 2)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("x has %d elements in one row and %d in another", st->d - 2, n),
				 errhint("Every row must give the same number of independent variables.")));

	x = (double *) ARR_DATA_PTR(arr);
	row[0] = 1.0;
	for (int j = 0; j < n; j++)
	{
		if (unlikely(isnan(x[j]) || isinf(x[j])))
			CheckFinite(x[j], "x");
		row[j + 1] = x[j];
	}
	row[n + 1] = PG_GETARG_FLOAT8(1);
	if (unlikely(isnan(row[n + 1]) || isinf(row[n + 1])))
		CheckFinite(row[n + 1], "y");
	LsqAddRow(st, row);
	PG_RETURN_POINTER(st);
}

Datum
aifactory_lsq_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	LsqState   *a;
	LsqState   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_lsq_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (LsqState *) PG_GETARG_POINTER(1);
	old = MemoryContextSwitchTo(aggcxt);
	AifBlasPrepare();
	if (PG_ARGISNULL(0))
		a = LsqCreate(b->d);
	else
		a = (LsqState *) PG_GETARG_POINTER(0);
	if (a->d != b->d)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("cannot combine least-squares states of %d and %d columns", a->d, b->d)));
	LsqMerge(a, b);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(a);
}

Datum
aifactory_lsq_serialize(PG_FUNCTION_ARGS)
{
	LsqState   *st = (LsqState *) PG_GETARG_POINTER(0);
	Size		n = LsqSerializedSize(st->d);
	bytea	   *result = palloc(VARHDRSZ + n);

	SET_VARSIZE(result, VARHDRSZ + n);
	LsqSerialize(st, VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}

Datum
aifactory_lsq_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	LsqState   *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_lsq_deserialize called in non-aggregate context");
	old = MemoryContextSwitchTo(aggcxt);
	st = LsqDeserialize(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes));
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

static ArrayType *
float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return construct_array(d, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

Datum
aifactory_linreg_final(PG_FUNCTION_ARGS)
{
	LsqState   *st;
	LsqOptions	opts;
	LsqFit		fit;
	TupleDesc	desc;
	int			p;
	double	   *coef;
	double	   *se;
	double	   *t;
	double	   *pv;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (LsqState *) PG_GETARG_POINTER(0);
	AifBlasPrepare();
	LsqFlush(st);
	if (st->nrows < st->d - 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("linreg needs at least %d rows for %d coefficients, but has %lld",
						st->d - 1, st->d - 1, (long long) st->nrows)));

	memset(&opts, 0, sizeof(opts));
	opts.intercept = true;
	opts.want_stderr = true;
	memset(&fit, 0, sizeof(fit));
	LsqSolve(st, &opts, &fit);
	if (fit.rank_deficient_col >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the design is singular: x[%d] is a linear combination of the other variables and the intercept",
						fit.rank_deficient_col + 1),
				 errhint("Leave that variable out.")));

	p = fit.k + 1;
	coef = palloc(sizeof(double) * p);
	se = palloc(sizeof(double) * p);
	t = palloc(sizeof(double) * p);
	pv = palloc(sizeof(double) * p);
	coef[0] = fit.intercept;
	se[0] = fit.intercept_se;
	for (int j = 0; j < fit.k; j++)
	{
		coef[j + 1] = fit.beta[j];
		se[j + 1] = fit.se ? fit.se[j] : NAN;
	}
	for (int j = 0; j < p; j++)
	{
		t[j] = se[j] > 0 ? coef[j] / se[j] : NAN;
		pv[j] = (fit.df_resid > 0 && !isnan(t[j])) ? StudentTTwoSidedP(t[j], fit.df_resid) : NAN;
	}

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	values[0] = PointerGetDatum(float8_array(coef, p));
	values[1] = PointerGetDatum(float8_array(se, p));
	values[2] = PointerGetDatum(float8_array(t, p));
	values[3] = PointerGetDatum(float8_array(pv, p));
	values[4] = Float8GetDatum(fit.r2);
	nulls[4] = isnan(fit.r2);
	values[5] = Int64GetDatum(st->nrows);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

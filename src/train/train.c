/*-------------------------------------------------------------------------
 *
 * train.c
 *	  aifactory.train(): source -> features -> passes -> fit -> metrics ->
 *	  registry -> deployment.
 *
 * The source is read only through the _train_pass aggregate (pass.h), with
 * the caller's privileges, so PostgreSQL may run each scan in parallel.  In
 * the common case (numeric features without NULLs) training is one scan:
 * the least-squares state of the training rows and the encoded test rows
 * come back together.  Categorical features add a profiling scan first
 * (their levels must be known to encode them); NULLs in numeric features,
 * found during the scan, cost one more scan with the training means
 * imputed; test rows beyond aifactory.train_memory are evaluated by a
 * last scan instead of being kept.
 *
 * Everything is registered in the caller's transaction: a failure at any
 * point leaves nothing behind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "aifactory.h"
#include "algorithms/lsq.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "core/blas.h"
#include "core/model.h"
#include "core/preprocess.h"
#include "core/source.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "registry/registry.h"
#include "train/pass.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(aifactory_train);

#define STASH_HARD_LIMIT ((int64) 512 * 1024 * 1024)
#define LSQ_MAX_REFINEMENTS 30

typedef struct LinearParams
{
	bool		intercept;
	double		alpha;
	bool		standardize;
} LinearParams;

/* One training run. */
typedef struct TrainRun
{
	char	   *project;
	char	   *source;
	char	   *target;
	AlgorithmId algorithm;
	LinearParams params;
	double		test_size;
	int32		seed;
	char	   *deploy;

	LsqOptions	lsq_opts;		/* what fit_linear solved */
	int			refinement_passes;

	char	   *from;			/* FROM clause of the source */
	char	   *pass_sql;		/* SELECT aifactory._train_pass(...) FROM ... */
	Model	   *model;
} TrainRun;

/* ---- arguments ---- */

static void
unknown_hyperparameter(const char *key, AlgorithmId algorithm, const char *known)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown hyperparameter \"%s\" for algorithm %s", key, AlgorithmName(algorithm)),
			 errhint("Known hyperparameters of %s: %s.", AlgorithmName(algorithm), known)));
}

static bool
json_bool(const char *key, JsonbValue *v)
{
	if (v->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" must be true or false", key)));
	return v->val.boolean;
}

static double
json_number(const char *key, JsonbValue *v)
{
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" must be a number", key)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v->val.numeric)));
}

/*
 * Read hyperparameters, scikit-learn's names and defaults; anything
 * unknown is an error rather than silently ignored.
 */
static void
parse_hyperparams(Jsonb *hp, AlgorithmId algorithm, LinearParams *params)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	const char *known = algorithm == ALGO_RIDGE ?
		"alpha, intercept, standardize" : "intercept";

	params->intercept = true;
	params->alpha = algorithm == ALGO_RIDGE ? 1.0 : 0.0;
	params->standardize = algorithm == ALGO_RIDGE;

	if (hp == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(hp))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparams must be a JSON object"),
				 errhint("For example '{\"alpha\": 0.5}'.")));

	it = JsonbIteratorInit(&hp->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "intercept") == 0)
			params->intercept = json_bool(key, &v);
		else if (algorithm == ALGO_RIDGE && strcmp(key, "alpha") == 0)
		{
			params->alpha = json_number(key, &v);
			if (!(params->alpha >= 0) || isinf(params->alpha))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("hyperparameter \"alpha\" must be a finite number >= 0")));
		}
		else if (algorithm == ALGO_RIDGE && strcmp(key, "standardize") == 0)
			params->standardize = json_bool(key, &v);
		else
			unknown_hyperparameter(key, algorithm, known);
	}
}

static char *
hyperparams_json(const TrainRun *run)
{
	if (run->algorithm == ALGO_RIDGE)
		return psprintf("{\"alpha\": %.17g, \"intercept\": %s, \"standardize\": %s}",
						run->params.alpha, run->params.intercept ? "true" : "false",
						run->params.standardize ? "true" : "false");
	return psprintf("{\"intercept\": %s}", run->params.intercept ? "true" : "false");
}

/* ---- features ---- */

static char *
type_name(Oid typid)
{
	return format_type_be(typid);
}

/*
 * Decide the features and their kinds from the source's columns.
 */
static void
resolve_columns(TrainRun *run, TupleDesc desc, ArrayType *features)
{
	Model	   *model = run->model;
	int			tcol = SourceColumn(desc, run->target);
	int		   *cols;
	int			n = 0;
	Oid			ttype;

	if (tcol < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist in the source", run->target),
				 errhint("Columns of the source: %s.", SourceColumnList(desc))));
	ttype = TupleDescAttr(desc, tcol)->atttypid;
	if (!TypeIsNumericFeature(ttype))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("target column \"%s\" is of type %s, but %s regression needs a numeric target",
						run->target, type_name(ttype), AlgorithmName(run->algorithm)),
				 errhint("Cast the target to a number in a SELECT source.")));

	cols = palloc(sizeof(int) * Max(desc->natts, 1));
	if (features != NULL)
	{
		Datum	   *names;
		bool	   *nulls;
		int			nnames;

		deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT,
						  &names, &nulls, &nnames);
		cols = repalloc(cols, sizeof(int) * Max(nnames, 1));
		for (int i = 0; i < nnames; i++)
		{
			char	   *name;
			int			c;

			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("feature names must not be NULL")));
			name = TextDatumGetCString(names[i]);
			c = SourceColumn(desc, name);
			if (c < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("feature column \"%s\" does not exist in the source", name),
						 errhint("Columns of the source: %s.", SourceColumnList(desc))));
			if (c == tcol)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is the target and cannot also be a feature", name),
						 errhint("Leave it out of the features list.")));
			for (int j = 0; j < n; j++)
				if (cols[j] == c)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("feature column \"%s\" is listed twice", name),
							 errhint("List each feature once.")));
			cols[n++] = c;
		}
	}
	else
	{
		for (int c = 0; c < desc->natts; c++)
			if (c != tcol && !TupleDescAttr(desc, c)->attisdropped)
				cols[n++] = c;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no features to train on"),
				 errhint("The source needs at least one column besides the target.")));

	model->target = MemoryContextStrdup(model->mcxt, run->target);
	model->pre.nfeatures = n;
	model->pre.features = MemoryContextAllocZero(model->mcxt, sizeof(FeatureSpec) * n);
	for (int i = 0; i < n; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, cols[i]);
		FeatureSpec *f = &model->pre.features[i];

		f->name = MemoryContextStrdup(model->mcxt, NameStr(att->attname));
		f->type_name = MemoryContextStrdup(model->mcxt, type_name(att->atttypid));
		if (TypeIsNumericFeature(att->atttypid))
			f->kind = FEATURE_NUMERIC;
		else if (TypeIsCategoricalFeature(att->atttypid))
			f->kind = FEATURE_CATEGORICAL;
		else
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" is of type %s, which cannot be a feature",
							f->name, f->type_name),
					 errhint("Features are numbers, booleans, text or enums: cast the column in a SELECT source, or list the features to use.")));
	}

	/* the pass query: target first, then the features, by name */
	{
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfo(&sql, "SELECT aifactory._train_pass($1, s.%s",
						 quote_identifier(run->target));
		for (int i = 0; i < n; i++)
			appendStringInfo(&sql, ", s.%s", quote_identifier(model->pre.features[i].name));
		appendStringInfo(&sql, ") FROM %s AS s", run->from);
		run->pass_sql = sql.data;
	}
}

/* Lay out the design columns once levels are known. */
static void
layout_design(Model *model, bool intercept)
{
	int			offset = 0;
	bool		first_full = !intercept;

	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		f->design_offset = offset;
		if (f->kind == FEATURE_NUMERIC)
			f->ncols = 1;
		else
		{
			/*
			 * Ordinary least squares with an intercept cannot identify a
			 * full set of dummies: the first level becomes the reference.
			 * Ridge keeps every level, as a one-hot pipeline in
			 * scikit-learn would.
			 */
			f->drop_first = model->algorithm == ALGO_LINEAR && !first_full;
			if (model->algorithm == ALGO_LINEAR && first_full)
				first_full = false;
			f->ncols = f->nlevels - ((f->drop_first && f->nlevels > 0) ? 1 : 0);
		}
		offset += f->ncols;
	}
	model->pre.ndesign = offset;
}

static char *
design_column_name(const Model *model, int j)
{
	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		if (j >= f->design_offset && j < f->design_offset + f->ncols)
		{
			if (f->kind == FEATURE_NUMERIC)
				return f->name;
			return psprintf("%s=%s", f->name,
							f->levels[j - f->design_offset + (f->drop_first ? 1 : 0)]);
		}
	}
	return "?";
}

/* ---- passes ---- */

static PassState *
run_pass(TrainRun *run, PassMode mode, double test_size, bool impute_known,
		 MemoryContext result_cxt)
{
	PassPlan	plan;
	Oid			types[1] = {BYTEAOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;
	volatile int rc = 0;
	PassState  *volatile st = NULL;

	memset(&plan, 0, sizeof(plan));
	plan.mode = mode;
	plan.seed = (uint64) (uint32) run->seed * UINT64CONST(0x9E3779B97F4A7C15);
	plan.test_size = test_size;
	plan.impute_known = impute_known;
	plan.stash_limit = Min((int64) AifTrainMemoryBytes(), STASH_HARD_LIMIT);
	plan.model = run->model;
	values[0] = PointerGetDatum(PassPlanSerialize(&plan));

	/* no row limit: a limit would keep the executor out of parallel mode */
	PassHandoffBegin(result_cxt);
	PG_TRY();
	{
		rc = SPI_execute_with_args(run->pass_sql, 1, types, values, NULL, true, 0);
	}
	PG_FINALLY();
	{
		st = PassHandoffEnd();
	}
	PG_END_TRY();
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "training pass failed: SPI error %d", rc);
	if (st != NULL)
		return st;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;			/* no rows at all */
	return PassStateDeserialize(DatumGetByteaPP(d), result_cxt);
}

static void
no_rows_error(const TrainRun *run, PassState *st)
{
	if (st != NULL && st->rows_null_target > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("target column \"%s\" is NULL in every row of the source", run->target),
				 errhint("Rows without a target are skipped; the source has none with one.")));
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("source \"%s\" has no rows to train on", run->source),
			 errhint("Check the table or the query's WHERE clause.")));
}

/* Levels and imputation means out of a profile (or first LSQ) pass. */
static void
apply_profile(TrainRun *run, PassState *st, bool levels)
{
	Model	   *model = run->model;

	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		if (f->kind == FEATURE_NUMERIC)
		{
			if (st->nonnull[i] == 0)
				ereport(ERROR,
						(errcode(ERRCODE_NO_DATA_FOUND),
						 errmsg("feature \"%s\" is NULL in every training row", f->name),
						 errhint("Leave it out with features => ARRAY[...].")));
			f->impute = st->sum[i] / st->nonnull[i];
		}
		else if (levels)
		{
			LevelDict  *d = st->dicts[i];
			int			k = 0;

			if (d->overflow)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("feature \"%s\" has more than %d distinct values", f->name,
								PASS_MAX_LEVELS),
						 errhint("One-hot encoding that many levels is not useful: group rare values, or leave the column out.")));
			f->nlevels = d->nentries;
			f->levels = MemoryContextAlloc(model->mcxt, sizeof(char *) * Max(d->nentries, 1));
			for (int s = 0; s < d->capacity; s++)
				if (d->keys[s])
					f->levels[k++] = MemoryContextStrdup(model->mcxt, d->keys[s]);
			qsort(f->levels, f->nlevels, sizeof(char *), CompareLevels);
		}
	}
}

/* ---- fit ---- */

static void
fit_linear(TrainRun *run, PassState *st, LsqFit *fit)
{
	Model	   *model = run->model;
	LsqOptions	opts;
	int			k = model->pre.ndesign;
	int			params = k + (run->params.intercept ? 1 : 0);
	double	   *scale = NULL;

	if (run->algorithm == ALGO_LINEAR && st->lsq->nrows < params)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("least squares needs at least %d training rows for %d coefficients, but has %lld",
						params, params, (long long) st->lsq->nrows),
				 errhint("Use more data, fewer features, or algorithm 'ridge'.")));

	LsqFlush(st->lsq);
	if (run->algorithm == ALGO_RIDGE && run->params.standardize)
	{
		scale = palloc(sizeof(double) * Max(k, 1));
		for (int j = 0; j < k; j++)
		{
			double		sd = LsqColumnStd(st->lsq, j + 1);

			scale[j] = (sd > 0 && isfinite(sd)) ? sd : 1.0;
		}
	}
	memset(&opts, 0, sizeof(opts));
	opts.intercept = run->params.intercept;
	opts.alpha = run->algorithm == ALGO_RIDGE ? run->params.alpha : 0.0;
	opts.penalty_scale = scale;
	opts.want_stderr = run->algorithm == ALGO_LINEAR;
	memset(fit, 0, sizeof(*fit));
	LsqSolve(st->lsq, &opts, fit);
	run->lsq_opts = opts;

	if (fit->rank_deficient_col >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the design is singular: \"%s\" is a linear combination of the other features%s",
						design_column_name(model, fit->rank_deficient_col),
						run->params.intercept ? " and the intercept" : ""),
				 errdetail("Least squares has no unique solution; aifactory does not return a minimum-norm one."),
				 errhint("Leave the column out with features => ARRAY[...], or use algorithm 'ridge'.")));

	model->fit_intercept = run->params.intercept;
	model->intercept = fit->intercept;
	model->coef = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(k, 1));
	memcpy(model->coef, fit->beta, sizeof(double) * k);
	if (run->algorithm == ALGO_LINEAR && fit->se != NULL)
	{
		model->has_stats = true;
		model->df_resid = fit->df_resid;
		model->intercept_se = fit->intercept_se;
		model->coef_se = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(k, 1));
		memcpy(model->coef_se, fit->se, sizeof(double) * k);
	}
}

/*
 * Iterative refinement for ill-conditioned ordinary least squares.
 *
 * A QR factorization in double precision is backward stable, which bounds
 * the error of the coefficients by about cond(X) * eps plus a cond(X)^2
 * term that grows with the residual.  Around cond(X) ~ 1e15 (a degree-10
 * polynomial over a narrow range) that leaves only a few correct digits.
 * Each refinement step scans the training rows once more, computing
 * g = X^T (y - X b) in double-double arithmetic, and corrects
 * b by the solution of R^T R d = g (the corrected semi-normal equations).
 * The error shrinks by about cond(X) * eps per step.  Well-conditioned
 * designs skip this entirely: they already have every digit double holds.
 */
static void
refine_linear(TrainRun *run, LsqState *lsq, MemoryContext work)
{
	Model	   *model = run->model;
	int			k = model->pre.ndesign;
	int			p = k + 1;
	double		rcond = LsqRcond(lsq, &run->lsq_opts);
	double	   *g = palloc(sizeof(double) * p);
	double	   *delta = palloc(sizeof(double) * p);
	double		prev_norm = INFINITY;

	if (!(rcond < 1e-7))
		return;

	for (int iter = 0; iter < LSQ_MAX_REFINEMENTS; iter++)
	{
		PassState  *rs;
		double		dnorm = 0;
		double		xnorm = fabs(model->intercept);

		CHECK_FOR_INTERRUPTS();
		rs = run_pass(run, PASS_REFINE, run->test_size, true, work);
		run->refinement_passes++;
		for (int j = 0; j < p; j++)
			g[j] = rs->grad[j].hi + rs->grad[j].lo;
		if (!model->fit_intercept)
			g[0] = 0;
		LsqSolveCorrection(lsq, &run->lsq_opts, g, delta);
		for (int j = 0; j < k; j++)
		{
			dnorm = Max(dnorm, fabs(delta[j + 1]));
			xnorm = Max(xnorm, fabs(model->coef[j]));
		}
		if (model->fit_intercept)
			dnorm = Max(dnorm, fabs(delta[0]));

		elog(DEBUG1, "least-squares refinement pass %d: correction %g, coefficients %g",
			 iter + 1, dnorm, xnorm);
		/* a growing correction means cond * eps is too close to 1: stop */
		if (dnorm > prev_norm)
			break;
		if (model->fit_intercept)
			model->intercept += delta[0];
		for (int j = 0; j < k; j++)
			model->coef[j] += delta[j + 1];
		prev_norm = dnorm;
		if (dnorm <= 4 * DBL_EPSILON * xnorm)
			break;
	}
}

/* ---- reporting ---- */

static void
append_number(StringInfo buf, const char *key, double v)
{
	appendStringInfo(buf, "%s\"%s\": ", buf->len > 1 ? ", " : "", key);
	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.17g", v);
}

static char *
features_json(const Model *model)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"name\": ");
		escape_json(&buf, f->name);
		appendStringInfoString(&buf, ", \"type\": ");
		escape_json(&buf, f->type_name);
		if (f->kind == FEATURE_NUMERIC)
			appendStringInfo(&buf, ", \"kind\": \"numeric\", \"impute\": %.17g}", f->impute);
		else
		{
			appendStringInfoString(&buf, ", \"kind\": \"categorical\", \"encoding\": \"one-hot\", \"levels\": [");
			for (int j = 0; j < f->nlevels; j++)
			{
				if (j > 0)
					appendStringInfoString(&buf, ", ");
				escape_json(&buf, f->levels[j]);
			}
			appendStringInfoString(&buf, "], \"reference\": ");
			if (f->drop_first && f->nlevels > 0)
				escape_json(&buf, f->levels[0]);
			else
				appendStringInfoString(&buf, "null");
			appendStringInfoChar(&buf, '}');
		}
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* ---- the SQL function ---- */

static bool
deploy_after_training(TrainRun *run, ProjectInfo *project, int64 model_id, int version)
{
	int64		chosen = 0;

	if (run->deploy == NULL || strcmp(run->deploy, "none") == 0)
		return false;
	if (strcmp(run->deploy, "latest") == 0)
		chosen = model_id;
	else if (strcmp(run->deploy, "best") == 0)
	{
		if (RegistryBestModelId(project) == model_id)
			chosen = model_id;
	}
	if (chosen == 0)
		return false;
	RegistryDeploy(project, chosen, run->deploy);
	RegistryAudit("deploy", project->name, version,
				  psprintf("{\"strategy\": \"%s\"}", run->deploy));
	return true;
}

Datum
aifactory_train(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TrainRun	run;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;
	MemoryContext old;
	instr_time	start;
	instr_time	elapsed;
	TupleDesc	desc;
	Oid			relid;
	PassState  *st;
	LsqFit		fit;
	MetricAcc	acc;
	bool		evaluated_on_train = false;
	bool		has_categorical = false;
	ProjectInfo project;
	bool		project_exists;
	NewModel	nm;
	int64		model_id;
	int			version;
	bool		deployed;
	StringInfoData metrics;
	double		seconds;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	INSTR_TIME_SET_CURRENT(start);
	InitMaterializedSRF(fcinfo, 0);

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", i == 0 ? "project" : i == 1 ? "source" : "target")));

	memset(&run, 0, sizeof(run));
	run.project = text_to_cstring(PG_GETARG_TEXT_PP(0));
	run.source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	run.target = text_to_cstring(PG_GETARG_TEXT_PP(2));
	RegistryCheckProjectName(run.project);

	{
		char	   *name = PG_ARGISNULL(3) ? "auto" : text_to_cstring(PG_GETARG_TEXT_PP(3));

		if (strcmp(name, "auto") == 0)
			name = "linear";
		if (!AlgorithmFromName(name, &run.algorithm))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown algorithm \"%s\"", name),
					 errhint("Known algorithms: auto, linear, ridge.")));
	}
	parse_hyperparams(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), run.algorithm, &run.params);

	run.test_size = PG_ARGISNULL(6) ? 0.25 : PG_GETARG_FLOAT8(6);
	if (!(run.test_size >= 0.0 && run.test_size < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_size must be at least 0 and less than 1"),
				 errhint("0 trains on every row; 0.25 holds a quarter out for metrics.")));
	run.seed = PG_ARGISNULL(7) ? (int32) (pg_prng_uint32(&pg_global_prng_state) & 0x7fffffff) :
		PG_GETARG_INT32(7);
	run.deploy = PG_ARGISNULL(8) ? "none" : text_to_cstring(PG_GETARG_TEXT_PP(8));
	if (strcmp(run.deploy, "best") != 0 && strcmp(run.deploy, "latest") != 0 &&
		strcmp(run.deploy, "none") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown deploy strategy \"%s\"", run.deploy),
				 errhint("Use best, latest or none.")));

	work = AllocSetContextCreate(CurrentMemoryContext, "aifactory train",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	run.model = ModelCreate(work);
	run.model->algorithm = run.algorithm;
	run.model->task = TASK_REGRESSION;

	SPI_connect();
	project_exists = RegistryFindProject(run.project, &project);
	if (project_exists)
	{
		if (project.task != TASK_REGRESSION)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("project \"%s\" is a %s project, but %s is a regression algorithm",
							run.project, TaskName(project.task), AlgorithmName(run.algorithm)),
					 errhint("Use another project name.")));
		RegistryCheckOwner(&project, "train models");
	}

	run.from = SourceFromClause(run.source, &relid);
	desc = SourceDescribe(run.from, relid);
	resolve_columns(&run, desc, PG_ARGISNULL(5) ? NULL : PG_GETARG_ARRAYTYPE_P(5));

	for (int i = 0; i < run.model->pre.nfeatures; i++)
		if (run.model->pre.features[i].kind == FEATURE_CATEGORICAL)
			has_categorical = true;

	AifBlasPrepare();
	if (has_categorical)
	{
		layout_design(run.model, run.params.intercept);
		st = run_pass(&run, PASS_PROFILE, run.test_size, false, work);
		if (st == NULL || st->rows_train + st->rows_test == 0)
			no_rows_error(&run, st);
		if (st->rows_train == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("no rows are left for training after the test split"),
					 errhint("Lower test_size or use more rows.")));
		apply_profile(&run, st, true);
		layout_design(run.model, run.params.intercept);
		st = run_pass(&run, PASS_LSQ, run.test_size, true, work);
	}
	else
	{
		layout_design(run.model, run.params.intercept);
		st = run_pass(&run, PASS_LSQ, run.test_size, false, work);
		if (st != NULL && st->rows_skipped_missing > 0)
		{
			apply_profile(&run, st, false);
			st = run_pass(&run, PASS_LSQ, run.test_size, true, work);
		}
		else if (st != NULL && st->rows_train > 0)
			apply_profile(&run, st, false);
	}
	if (st == NULL || st->rows_train + st->rows_test == 0)
		no_rows_error(&run, st);
	if (st->rows_train == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no rows are left for training after the test split"),
				 errhint("Lower test_size or use more rows.")));

	fit_linear(&run, st, &fit);
	if (run.algorithm == ALGO_LINEAR)
	{
		refine_linear(&run, st->lsq, work);
		if (run.refinement_passes > 0 && fit.tss > 0)
			fit.r2 = 1.0 - LsqRss(st->lsq, run.model->intercept, run.model->coef) / fit.tss;
	}

	/* test metrics: from the kept test rows, or by one more scan */
	memset(&acc, 0, sizeof(acc));
	if (st->rows_test > 0 && !st->stash_overflow)
	{
		for (StashChunk *c = st->stash; c != NULL; c = c->next)
		{
			CHECK_FOR_INTERRUPTS();
			for (int r = 0; r < c->nrows; r++)
			{
				double	   *row = c->rows + (Size) r * st->stash_width;

				MetricAccAdd(&acc, row[st->stash_width - 1], ModelPredictDesign(run.model, row));
			}
		}
	}
	else
	{
		PassState  *ev;

		evaluated_on_train = st->rows_test == 0;
		ev = run_pass(&run, PASS_EVAL, evaluated_on_train ? 0.0 : run.test_size, true, work);
		acc = ev->acc;
	}

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	seconds = INSTR_TIME_GET_DOUBLE(elapsed);

	initStringInfo(&metrics);
	appendStringInfoChar(&metrics, '{');
	append_number(&metrics, "r2", acc.ym2 > 0 ? 1.0 - acc.sse / acc.ym2 : NAN);
	append_number(&metrics, "rmse", acc.n > 0 ? sqrt(acc.sse / acc.n) : NAN);
	append_number(&metrics, "mae", acc.n > 0 ? acc.sae / acc.n : NAN);
	append_number(&metrics, "train_r2", fit.r2);
	append_number(&metrics, "train_rows", (double) st->rows_train);
	append_number(&metrics, "test_rows", (double) (evaluated_on_train ? 0 : st->rows_test));
	append_number(&metrics, "fit_seconds", seconds);
	if (run.algorithm == ALGO_LINEAR)
	{
		append_number(&metrics, "df_resid", fit.df_resid);
		append_number(&metrics, "condition_number", 1.0 / LsqRcond(st->lsq, &run.lsq_opts));
		append_number(&metrics, "refinement_passes", run.refinement_passes);
	}
	appendStringInfo(&metrics, ", \"evaluated_on\": \"%s\", \"split\": {\"seed\": %d, \"test_size\": %.17g}}",
					 evaluated_on_train ? "train" : "test", run.seed, run.test_size);

	if (!project_exists)
		RegistryCreateProject(run.project, TASK_REGRESSION, &project);

	memset(&nm, 0, sizeof(nm));
	nm.algorithm = AlgorithmName(run.algorithm);
	nm.hyperparams = JsonbFromCString(hyperparams_json(&run));
	nm.metrics = JsonbFromCString(metrics.data);
	nm.features = JsonbFromCString(features_json(run.model));
	nm.source = run.source;
	nm.target = run.target;
	nm.train_rows = st->rows_train;
	nm.fit_seconds = seconds;
	nm.bytes = ModelSerialize(run.model);
	version = RegistryInsertModel(&project, &nm, &model_id);
	{
		StringInfoData detail;

		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"algorithm\": \"%s\", \"train_rows\": %lld, \"source\": ",
						 nm.algorithm, (long long) st->rows_train);
		escape_json(&detail, run.source);
		appendStringInfoChar(&detail, '}');
		RegistryAudit("train", run.project, version, detail.data);
	}
	deployed = deploy_after_training(&run, &project, model_id, version);

	/* the result row, built in the caller's memory */
	MemoryContextSwitchTo(caller);
	values[0] = CStringGetTextDatum(run.project);
	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(AlgorithmName(run.algorithm));
	values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics.data));
	values[4] = BoolGetDatum(deployed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	SPI_finish();
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(work);
	(void) old;
	return (Datum) 0;
}

/*-------------------------------------------------------------------------
 *
 * train.c
 *	  aifactory.train(): arguments -> algorithm and task -> source columns
 *	  -> fit (fit_stream.c or fit_memory.c) -> registry -> deployment.
 *
 * The source is read through the _train_pass aggregate (pass.h), with the
 * caller's privileges, so PostgreSQL may run each scan in parallel.  The
 * one-pass algorithms (least squares, naive Bayes, PCA) read it once in the
 * common case; the iterative ones load it into memory once, straight from
 * the table's heap when the source is a bare scan of one table
 * (tableload.c), else through the aggregate.
 *
 * Everything is registered in the caller's transaction: a failure at any
 * point leaves nothing behind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "aifactory.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "core/blas.h"
#include "core/model.h"
#include "core/preprocess.h"
#include "core/source.h"
#include "executor/spi.h"
#include "features/features.h"
#include "fmgr.h"
#include "funcapi.h"
#include "jobs/jobs.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "registry/registry.h"
#include "train/dataset.h"
#include "train/train_internal.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(aifactory_train);

#define STASH_HARD_LIMIT ((int64) 512 * 1024 * 1024)

/* ---- passes ---- */

/*
 * Run one scan of the source as the given pass and return its state (NULL
 * when the source has no rows at all).
 */
PassState *
RunPass(TrainRun *run, PassMode mode, bool impute_known)
{
	PassPlan	plan;
	Oid			types[1] = {BYTEAOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;
	volatile int rc = 0;
	PassState  *volatile st = NULL;
	PassState  *loaded;
	instr_time	t0;
	instr_time	t1;
	volatile int guc_level = 0;

	memset(&plan, 0, sizeof(plan));
	plan.mode = mode;
	plan.seed = (uint64) (uint32) run->seed * UINT64CONST(0x9E3779B97F4A7C15);
	plan.test_size = run->test_size;
	plan.impute_known = impute_known;
	/*
	 * Kept rows travel from parallel workers as one bytea, which caps them
	 * below 1GB; a load keeps every row, and gains nothing from workers
	 * that must ship all of them to the leader, so it runs in the leader
	 * alone and only the budget bounds it.
	 */
	plan.stash_limit = mode == PASS_LOAD ? (int64) DatasetLoadBudget() :
		Min((int64) AifTrainMemoryBytes(), STASH_HARD_LIMIT);
	plan.model = run->model;
	if (mode == PASS_LSQ)
	{
		plan.pilots = true;
		plan.fit_intercept = run->hp.intercept;
		plan.alpha = run->algorithm == ALGO_RIDGE ? run->hp.alpha : 0;
		plan.standardize = run->hp.standardize;
	}
	values[0] = PointerGetDatum(PassPlanSerialize(&plan));

	/* no row limit: a limit would keep the executor out of parallel mode */
	INSTR_TIME_SET_CURRENT(t0);
	if (mode == PASS_LOAD)
	{
		guc_level = NewGUCNestLevel();
		(void) set_config_option("max_parallel_workers_per_gather", "0",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		/* a scan that starts where another is would change the row order */
		(void) set_config_option("synchronize_seqscans", "off",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	if (mode == PASS_LOAD &&
		PassLoadFromTable(run->rows_sql, DatumGetByteaPP(values[0]), run->work, &loaded))
	{
		AtEOXact_GUC(true, guc_level);
		INSTR_TIME_SET_CURRENT(t1);
		INSTR_TIME_SUBTRACT(t1, t0);
		elog(DEBUG1, "training pass %d: %.3f s", mode, INSTR_TIME_GET_DOUBLE(t1));
		return loaded;
	}
	PassHandoffBegin(run->work);
	PG_TRY();
	{
		rc = SPI_execute_with_args(run->pass_sql, 1, types, values, NULL, true, 0);
	}
	PG_FINALLY();
	{
		st = PassHandoffEnd();
	}
	PG_END_TRY();
	if (guc_level > 0)
		AtEOXact_GUC(true, guc_level);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "training pass failed: SPI error %d", rc);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	elog(DEBUG1, "training pass %d: %.3f s", mode, INSTR_TIME_GET_DOUBLE(t1));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;			/* no rows at all */
	/* the state came in memory only if our aggregate returned the marker */
	if (st != NULL && PassIsHandoffMarker(DatumGetByteaPP(d)))
		return st;
	return PassStateDeserialize(DatumGetByteaPP(d), run->work);
}

void
NoRowsError(const TrainRun *run, PassState *st)
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

/* ---- choosing the algorithm ---- */

/*
 * 'auto': the project's task decides if the project exists; otherwise the
 * target does -- none means clustering, a numeric one regression, a label
 * (text, boolean, enum) classification.
 */
static AlgorithmId
auto_algorithm(TrainRun *run, bool project_exists, TaskKind project_task, Oid target_type)
{
	TaskKind	task;

	if (project_exists)
		task = project_task;
	else if (run->target == NULL)
		task = TASK_CLUSTERING;
	else if (OidIsValid(target_type) && TypeIsNumericFeature(target_type))
		task = TASK_REGRESSION;
	else
		task = TASK_CLASSIFICATION;
	switch (task)
	{
		case TASK_REGRESSION:
			return ALGO_LINEAR;
		case TASK_CLASSIFICATION:
			return ALGO_LOGISTIC;
		case TASK_CLUSTERING:
			return ALGO_KMEANS;
		case TASK_DECOMPOSITION:
			return ALGO_PCA;
	}
	return ALGO_LINEAR;
}

/*
 * Trees fit either task.  XGBoost's objective (or sklearn's criterion)
 * says which when given; else an existing project's task; else the
 * target's type: numbers are regressed, anything else is classified.
 */
static TaskKind
tree_task(TrainRun *run, TaskKind project_task, Oid target_type)
{
	if (run->hp.tree_task == TREE_TASK_REGRESSION)
		return TASK_REGRESSION;
	if (run->hp.tree_task != TREE_TASK_UNSET)
		return TASK_CLASSIFICATION;
	if (project_task == TASK_REGRESSION || project_task == TASK_CLASSIFICATION)
		return project_task;
	if (OidIsValid(target_type) && TypeIsNumericFeature(target_type))
		return TASK_REGRESSION;
	return TASK_CLASSIFICATION;
}

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

/* Which fit: the one-pass scans for mean imputation, else in memory. */
static void
fit(TrainRun *run)
{
	bool		streaming = run->hp.impute == IMPUTE_MEAN;

	switch (run->algorithm)
	{
		case ALGO_LINEAR:
		case ALGO_RIDGE:
			if (streaming)
				FitLeastSquares(run);
			else
				FitInMemory(run);
			break;
		case ALGO_NAIVE_BAYES:
			if (streaming)
				FitNaiveBayesStream(run);
			else
				FitInMemory(run);
			break;
		case ALGO_PCA:
			/* standardized PCA needs the scales first: from memory */
			if (streaming && !run->hp.standardize)
				FitPcaStream(run);
			else
				FitInMemory(run);
			break;
		case ALGO_ELASTIC_NET:
		case ALGO_LOGISTIC:
		case ALGO_KMEANS:
		case ALGO_GBDT:
		case ALGO_RANDOM_FOREST:
			FitInMemory(run);
			break;
	}
}

/*
 * Everything a training run needs before it reads data: the arguments
 * checked, the project looked up (and its owner checked), the source
 * described, the algorithm and task chosen, the hyperparameters parsed,
 * the columns resolved.  The caller has connected to SPI; the run's
 * memory is a new context under parent (which must outlive SPI_finish),
 * and is left current.  Shared by train() and tune().
 */
void
TrainBegin(TrainRun *run, const TrainArgs *args, MemoryContext parent, ProjectInfo *project,
		   bool *project_exists)
{
	TupleDesc	desc;
	Oid			relid;
	Oid			target_type = InvalidOid;
	const char *algorithm_name;
	ArrayType  *set_features;

	if (args->project == NULL || args->source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", args->project == NULL ? "project" : "source")));

	memset(run, 0, sizeof(TrainRun));
	run->project = args->project;
	run->source = args->source;
	run->target = args->target;
	RegistryCheckProjectName(run->project);
	algorithm_name = args->algorithm ? args->algorithm : "auto";
	if (strcmp(algorithm_name, "auto") != 0 && !AlgorithmFromName(algorithm_name, &run->algorithm))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown algorithm \"%s\"", algorithm_name),
				 errhint("Known algorithms: auto, linear, ridge, elastic_net, logistic, naive_bayes, gbdt, random_forest, kmeans, pca.")));

	run->test_size = args->test_size_null ? 0.25 : args->test_size;
	if (!(run->test_size >= 0.0 && run->test_size < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_size must be at least 0 and less than 1"),
				 errhint("0 trains on every row; 0.25 holds a quarter out for metrics.")));
	run->seed = args->seed_null ? (int32) (pg_prng_uint32(&pg_global_prng_state) & 0x7fffffff) :
		args->seed;
	run->deploy = args->deploy ? args->deploy : "none";
	if (strcmp(run->deploy, "best") != 0 && strcmp(run->deploy, "latest") != 0 &&
		strcmp(run->deploy, "none") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown deploy strategy \"%s\"", run->deploy),
				 errhint("Use best, latest or none.")));

	run->work = AllocSetContextCreate(parent, "aifactory train",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(run->work);
	initStringInfo(&run->metrics);
	run->model = ModelCreate(run->work);

	*project_exists = RegistryFindProject(run->project, project);
	if (*project_exists)
		RegistryCheckOwner(project, "train models");

	/* a training set is its relation, with lineage and its features by default */
	run->from = TrainingSetSource(run->source, &relid, &run->lineage, &set_features);
	desc = SourceDescribe(run->from, relid);
	if (run->target != NULL && SourceColumn(desc, run->target) >= 0)
		target_type = TupleDescAttr(desc, SourceColumn(desc, run->target))->atttypid;

	/* the algorithm, and with it the task */
	if (strcmp(algorithm_name, "auto") == 0)
		run->algorithm = auto_algorithm(run, *project_exists, *project_exists ? project->task : 0,
										target_type);
	run->task = AlgorithmTask(run->algorithm);
	HyperParamsParse(run->algorithm, args->hyperparams, &run->hp);
	if (run->task == 0)
		run->task = tree_task(run, *project_exists ? project->task : 0, target_type);
	if (*project_exists && project->task != run->task)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("project \"%s\" is a %s project, but %s is a %s algorithm",
						run->project, TaskName(project->task), AlgorithmName(run->algorithm),
						TaskName(run->task)),
				 errhint("Use another project name.")));
	if ((run->task == TASK_REGRESSION || run->task == TASK_CLASSIFICATION) && run->target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s needs a target column", AlgorithmName(run->algorithm)),
				 errhint("Name the column to predict, or use kmeans or pca, which need none.")));
	if ((run->task == TASK_CLUSTERING || run->task == TASK_DECOMPOSITION) && run->target != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is unsupervised and takes no target", AlgorithmName(run->algorithm)),
				 errhint("Pass target => NULL, and leave other columns out with features => ARRAY[...].")));
	/* clustering and decomposition fit every row, as scikit-learn's fit(X) */
	if (run->task == TASK_CLUSTERING || run->task == TASK_DECOMPOSITION)
		run->test_size = 0;

	run->model->algorithm = run->algorithm;
	run->model->task = run->task;
	ResolveColumns(run, desc, args->features ? args->features : set_features);
}

/*
 * Register the fitted run as the project's next version (creating the
 * project on its first model), audit it and deploy it per run->deploy.
 * extra_audit, when not NULL, is JSON members added to the audit detail.
 */
void
TrainFinish(TrainRun *run, ProjectInfo *project, bool project_exists, double seconds,
			const char *extra_audit, TrainResult *result)
{
	NewModel	nm;
	int64		model_id;

	MetricNumber(run, "train_rows", (double) run->train_rows);
	MetricNumber(run, "test_rows", (double) (run->evaluated_on_train ? 0 : run->test_rows));
	MetricNumber(run, "fit_seconds", seconds);
	appendStringInfo(&run->metrics, ", \"evaluated_on\": \"%s\", \"split\": {\"seed\": %d, \"test_size\": %.17g}",
					 run->evaluated_on_train ? "train" : "test", run->seed, run->test_size);
	result->metrics = psprintf("{%s}", run->metrics.data);

	if (!project_exists)
		RegistryCreateProject(run->project, run->task, project);

	memset(&nm, 0, sizeof(nm));
	nm.algorithm = AlgorithmName(run->algorithm);
	result->hyperparams = HyperParamsJson(run->algorithm, &run->hp);
	nm.hyperparams = JsonbFromCString(result->hyperparams);
	nm.metrics = JsonbFromCString(result->metrics);
	nm.features = JsonbFromCString(FeaturesJson(run->model));
	nm.source = run->source;
	nm.target = run->target;
	nm.train_rows = run->train_rows;
	nm.fit_seconds = seconds;
	nm.bytes = ModelSerialize(run->model);
	nm.lineage = run->lineage ? JsonbFromCString(run->lineage) : NULL;
	nm.baseline = run->baseline;
	result->version = RegistryInsertModel(project, &nm, &model_id);
	{
		StringInfoData detail;

		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"algorithm\": \"%s\", \"train_rows\": %lld, \"source\": ",
						 nm.algorithm, (long long) run->train_rows);
		escape_json(&detail, run->source);
		if (extra_audit)
			appendStringInfo(&detail, ", %s", extra_audit);
		appendStringInfoChar(&detail, '}');
		RegistryAudit(extra_audit ? "tune" : "train", run->project, result->version, detail.data);
	}
	result->deployed = deploy_after_training(run, project, model_id, result->version);
}

/*
 * The first five columns train() and tune() return: project, version,
 * algorithm, metrics, deployed (in the current memory context).
 */
void
TrainResultValues(const TrainRun *run, const TrainResult *result, Datum *values)
{
	values[0] = CStringGetTextDatum(run->project);
	values[1] = Int32GetDatum(result->version);
	values[2] = CStringGetTextDatum(AlgorithmName(run->algorithm));
	values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(result->metrics));
	values[4] = BoolGetDatum(result->deployed);
}

Datum
aifactory_train(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TrainRun	run;
	TrainArgs	args;
	TrainResult result;
	MemoryContext caller = CurrentMemoryContext;
	instr_time	start;
	instr_time	elapsed;
	ProjectInfo project;
	bool		project_exists;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	INSTR_TIME_SET_CURRENT(start);
	InitMaterializedSRF(fcinfo, 0);

	memset(&args, 0, sizeof(args));
	args.project = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	args.source = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	args.target = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	args.algorithm = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	args.hyperparams = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	args.features = PG_ARGISNULL(5) ? NULL : PG_GETARG_ARRAYTYPE_P(5);
	args.test_size_null = PG_ARGISNULL(6);
	args.test_size = args.test_size_null ? 0 : PG_GETARG_FLOAT8(6);
	args.seed_null = PG_ARGISNULL(7);
	args.seed = args.seed_null ? 0 : PG_GETARG_INT32(7);
	args.deploy = PG_ARGISNULL(8) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(8));

	SPI_connect();
	TrainBegin(&run, &args, caller, &project, &project_exists);

	AifBlasPrepare();
	JobReportProgress("reading the source", 0.0);
	fit(&run);

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	JobReportProgress("registering", 0.95);
	TrainFinish(&run, &project, project_exists, INSTR_TIME_GET_DOUBLE(elapsed), NULL, &result);

	/* the result row, built in the caller's memory */
	MemoryContextSwitchTo(caller);
	TrainResultValues(&run, &result, values);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	SPI_finish();
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(run.work);
	return (Datum) 0;
}

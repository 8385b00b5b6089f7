/*-------------------------------------------------------------------------
 *
 * explain.c
 *	  explain(project, features): why a tree model predicts what it does,
 *	  as exact TreeSHAP contributions per design column.
 *
 * The rows add up: the contribution of every design column plus the row
 * named "expected_value" equal the model's raw output for the row (the
 * value for regression, the log-odds of the positive class for binary
 * gbdt, each class's margin for multiclass gbdt, each class's probability
 * for a random forest classifier), as XGBoost's pred_contribs and the shap
 * package report them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "predict/predict.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

/* The name of the row holding the expected value (the SHAP base value). */
#define EXPECTED_VALUE_NAME "expected_value"

static void
put_row(ReturnSetInfo *rsinfo, const char *feature, double contribution, const char *cls)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, cls == NULL};

	values[0] = CStringGetTextDatum(feature);
	values[1] = Float8GetDatum(contribution);
	values[2] = cls ? CStringGetTextDatum(cls) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static Datum
do_explain(FunctionCallInfo fcinfo, bool versioned, bool row)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PredictCache *pc;
	const double *x;
	const Model *model;
	const TreeEnsemble *ens;
	int			p;
	double	   *phi;

	InitMaterializedSRF(fcinfo, 0);
	x = PredictCallDesign(fcinfo, versioned, row, &pc);
	model = pc->model;
	if (model->trees == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("explain() needs a tree model, but project \"%s\" uses %s",
						pc->project, AlgorithmName(model->algorithm)),
				 errhint("explain() covers gbdt and random_forest; coefficients() gives a linear model's effects.")));
	ens = model->trees;
	p = model->pre.ndesign;
	phi = palloc(sizeof(double) * (p + 1));

	/*
	 * One output: regression, or binary gbdt (the positive class, the
	 * second label, as scikit-learn's coef_ and XGBoost's margin).  Several:
	 * a set of rows per class.
	 */
	for (int k = 0; k < ens->noutputs; k++)
	{
		const char *cls = NULL;

		if (model->task == TASK_CLASSIFICATION)
			cls = model->classes[ens->noutputs == 1 ? 1 : k];
		TreeEnsembleShap(ens, x, k, phi);
		put_row(rsinfo, EXPECTED_VALUE_NAME, phi[p], cls);
		for (int j = 0; j < p; j++)
			put_row(rsinfo, DesignColumnName(model, j), phi[j], cls);
	}
	pfree(phi);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(aifactory_explain_array);
PG_FUNCTION_INFO_V1(aifactory_explain_version_array);
PG_FUNCTION_INFO_V1(aifactory_explain_row);
PG_FUNCTION_INFO_V1(aifactory_explain_version_row);

Datum
aifactory_explain_array(PG_FUNCTION_ARGS)
{
	return do_explain(fcinfo, false, false);
}

Datum
aifactory_explain_version_array(PG_FUNCTION_ARGS)
{
	return do_explain(fcinfo, true, false);
}

Datum
aifactory_explain_row(PG_FUNCTION_ARGS)
{
	return do_explain(fcinfo, false, true);
}

Datum
aifactory_explain_version_row(PG_FUNCTION_ARGS)
{
	return do_explain(fcinfo, true, true);
}

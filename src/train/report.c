/*-------------------------------------------------------------------------
 *
 * report.c
 *	  What a training run stores about its model: metrics by task, and the
 *	  features with their preprocessing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/classmetrics.h"
#include "train/train_internal.h"
#include "utils/json.h"

static void
key(TrainRun *run, const char *name)
{
	if (run->metrics.len > 0)
		appendStringInfoString(&run->metrics, ", ");
	appendStringInfo(&run->metrics, "\"%s\": ", name);
}

static void
number(StringInfo buf, double v)
{
	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.17g", v);
}

/* A number; NaN and infinity are stored as null. */
void
MetricNumber(TrainRun *run, const char *name, double v)
{
	key(run, name);
	number(&run->metrics, v);
}

void
MetricArray(TrainRun *run, const char *name, const double *v, int n)
{
	key(run, name);
	appendStringInfoChar(&run->metrics, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&run->metrics, ", ");
		number(&run->metrics, v[i]);
	}
	appendStringInfoChar(&run->metrics, ']');
}

/* r2 on the evaluated rows' own mean (as sklearn's r2_score), rmse, mae. */
void
RegressionMetrics(TrainRun *run, const MetricAcc *acc)
{
	MetricNumber(run, "r2", acc->ym2 > 0 ? 1.0 - acc->sse / acc->ym2 : NAN);
	MetricNumber(run, "rmse", acc->n > 0 ? sqrt(acc->sse / acc->n) : NAN);
	MetricNumber(run, "mae", acc->n > 0 ? acc->sae / acc->n : NAN);
}

/* ---- classification ---- */

struct ClassEval
{
	int			nclasses;
	int64		n;
	int64		capacity;
	int		   *actual;
	int		   *predicted;
	double	   *score;			/* binary: probability of class 1 */
	LogLossState logloss;
};

ClassEval *
ClassEvalCreate(int nclasses, int64 capacity)
{
	ClassEval  *ev = palloc0(sizeof(ClassEval));

	ev->nclasses = nclasses;
	ev->capacity = Max(capacity, 1);
	ev->actual = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * ev->capacity);
	ev->predicted = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * ev->capacity);
	ev->score = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * ev->capacity);
	LogLossInit(&ev->logloss);
	return ev;
}

void
ClassEvalAdd(ClassEval *ev, int actual, const double *proba, int predicted)
{
	if (ev->n == ev->capacity)
		elog(ERROR, "more evaluated rows than expected");
	ev->actual[ev->n] = actual;
	ev->predicted[ev->n] = predicted;
	if (ev->nclasses == 2)
	{
		ev->score[ev->n] = proba[1];
		LogLossAddBinary(&ev->logloss, actual, proba[1]);
	}
	ev->n++;
}

/*
 * accuracy and macro precision, recall and f1 for every task; for two
 * classes also roc_auc and log_loss, class 1 (the second label) being the
 * positive class.
 */
void
ClassificationMetrics(TrainRun *run, ClassEval *ev)
{
	ClassConfusion *cm = ClassConfusionCreate(ev->nclasses);
	ClassMetrics sc;

	for (int64 i = 0; i < ev->n; i++)
		ClassConfusionAdd(cm, ev->actual[i], ev->predicted[i]);
	ClassConfusionMetrics(cm, &sc);
	MetricNumber(run, "accuracy", sc.accuracy);
	MetricNumber(run, "precision", sc.precision);
	MetricNumber(run, "recall", sc.recall);
	MetricNumber(run, "f1", sc.f1);
	if (ev->nclasses == 2)
	{
		MetricNumber(run, "roc_auc", BinaryRocAuc(ev->score, ev->actual, ev->n));
		MetricNumber(run, "log_loss", LogLossValue(&ev->logloss));
	}
}

/* ---- features ---- */

char *
FeaturesJson(const Model *model)
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
		{
			appendStringInfoString(&buf, ", \"kind\": \"numeric\", \"impute\": ");
			number(&buf, f->impute);
		}
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
		}
		if (model->pre.scaled)
		{
			/* the design columns of this feature, as standardized */
			appendStringInfoString(&buf, ", \"center\": [");
			for (int c = 0; c < f->ncols; c++)
			{
				if (c > 0)
					appendStringInfoString(&buf, ", ");
				number(&buf, model->pre.center[f->design_offset + c]);
			}
			appendStringInfoString(&buf, "], \"scale\": [");
			for (int c = 0; c < f->ncols; c++)
			{
				if (c > 0)
					appendStringInfoString(&buf, ", ");
				number(&buf, model->pre.scale[f->design_offset + c]);
			}
			appendStringInfoChar(&buf, ']');
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

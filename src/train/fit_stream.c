/*-------------------------------------------------------------------------
 *
 * fit_stream.c
 *	  The one-pass algorithms, fitted from parallel-safe aggregate scans:
 *	  least squares (linear, ridge), Gaussian naive Bayes, PCA.
 *
 * Each reads the source once in the common case (numeric features without
 * NULLs); categorical features or class labels add a profiling scan
 * first, and NULLs found during the scan cost one more with the training
 * means imputed (see pass.h).  Test rows come back with the state, so the
 * test metrics need no further scan unless they exceed
 * aifactory.train_memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "algorithms/lsq.h"
#include "algorithms/naivebayes.h"
#include "algorithms/pca.h"
#include "core/model.h"
#include "core/preprocess.h"
#include "miscadmin.h"
#include "train/train_internal.h"

#define LSQ_MAX_REFINEMENTS 30

/*
 * The common scan sequence: a profile when levels or labels are needed,
 * then the mode's scan, once more with means imputed if it met NULLs.
 */
static PassState *
stream_passes(TrainRun *run, PassMode mode)
{
	PassState  *st;
	bool		profiled = false;

	if (HasCategoricalFeatures(run->model) || run->task == TASK_CLASSIFICATION)
	{
		LayoutDesign(run);
		st = RunPass(run, PASS_PROFILE, false);
		if (st == NULL || st->rows_train + st->rows_test == 0)
			NoRowsError(run, st);
		if (st->rows_train == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("no rows are left for training after the test split"),
					 errhint("Lower test_size or use more rows.")));
		ApplyProfile(run, st, true);
		profiled = true;
	}
	LayoutDesign(run);
	st = RunPass(run, mode, profiled);
	if (!profiled && st != NULL && st->rows_skipped_missing > 0)
	{
		ApplyProfile(run, st, false);
		st = RunPass(run, mode, true);
	}
	else if (!profiled && st != NULL && st->rows_train > 0)
		ApplyProfile(run, st, false);
	if (st == NULL || st->rows_train + st->rows_test == 0)
		NoRowsError(run, st);
	if (st->rows_train == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no rows are left for training after the test split"),
				 errhint("Lower test_size or use more rows.")));
	run->train_rows = st->rows_train;
	run->test_rows = st->rows_test;
	return st;
}

/* ---- least squares ---- */

/*
 * Solve least squares (linear or ridge) from a streaming QR state of the
 * training rows, and store the fit in the model.  Shared with the
 * in-memory path, which feeds the state from loaded rows.
 */
void
SolveLeastSquares(TrainRun *run, LsqState *lsq, LsqFit *fit)
{
	Model	   *model = run->model;
	LsqOptions	opts;
	int			k = model->pre.ndesign;
	int			params = k + (run->hp.intercept ? 1 : 0);
	double	   *scale = NULL;

	if (run->algorithm == ALGO_LINEAR && lsq->nrows < params)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("least squares needs at least %d training rows for %d coefficients, but has %lld",
						params, params, (long long) lsq->nrows),
				 errhint("Use more data, fewer features, or algorithm 'ridge'.")));

	LsqFlush(lsq);
	if (run->algorithm == ALGO_RIDGE && run->hp.standardize)
	{
		scale = palloc(sizeof(double) * Max(k, 1));
		for (int j = 0; j < k; j++)
		{
			double		sd = LsqColumnStd(lsq, j + 1);

			scale[j] = (sd > 0 && isfinite(sd)) ? sd : 1.0;
		}
	}
	memset(&opts, 0, sizeof(opts));
	opts.intercept = run->hp.intercept;
	opts.alpha = run->algorithm == ALGO_RIDGE ? run->hp.alpha : 0.0;
	opts.penalty_scale = scale;
	opts.want_stderr = run->algorithm == ALGO_LINEAR;
	memset(fit, 0, sizeof(*fit));
	LsqSolve(lsq, &opts, fit);
	run->lsq_opts = opts;

	if (fit->rank_deficient_col >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the design is singular: \"%s\" is a linear combination of the other features%s",
						DesignColumnName(model, fit->rank_deficient_col),
						run->hp.intercept ? " and the intercept" : ""),
				 errdetail("Least squares has no unique solution; aifactory does not return a minimum-norm one."),
				 errhint("Leave the column out with features => ARRAY[...], or use algorithm 'ridge'.")));

	model->fit_intercept = run->hp.intercept;
	model->nsets = 1;
	model->intercept = fit->intercept;
	model->intercepts = MemoryContextAlloc(model->mcxt, sizeof(double));
	model->intercepts[0] = fit->intercept;
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
 * g = X^T (y - X b) in double-double arithmetic, and corrects b by the
 * solution of R^T R d = g (the corrected semi-normal equations).  The
 * error shrinks by about cond(X) * eps per step.  Well-conditioned designs
 * skip this entirely: they already have every digit double holds.
 */
static void
refine_linear(TrainRun *run, LsqState *lsq)
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
		rs = RunPass(run, PASS_REFINE, true);
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
		{
			model->intercept += delta[0];
			model->intercepts[0] = model->intercept;
		}
		for (int j = 0; j < k; j++)
			model->coef[j] += delta[j + 1];
		prev_norm = dnorm;
		if (dnorm <= 4 * DBL_EPSILON * xnorm)
			break;
	}
}

/*
 * Test metrics from the scan's error sums (algorithms/abserr.h) plus the
 * test rows it kept: exact, unless some pilot cannot be shown close enough
 * to the final fit -- then false, and the caller scans once more.
 */
static bool
sums_test_metrics(TrainRun *run, PassState *st, MetricAcc *acc)
{
	Model	   *model = run->model;
	int			k = model->pre.ndesign;
	double	   *b = palloc(sizeof(double) * (k + 1));
	double		sse;
	double		sae;
	int64		summed;
	int64		kept = 0;

	b[0] = model->fit_intercept ? model->intercept : 0;
	memcpy(b + 1, model->coef, sizeof(double) * k);
	if (!AbsErrFinish(st->abserr, b, &sse, &sae, &summed))
	{
		elog(DEBUG1, "test error sums: a pilot is too far from the fit; scanning again");
		return false;
	}
	for (StashChunk *c = st->stash; c != NULL; c = c->next)
	{
		CHECK_FOR_INTERRUPTS();
		for (int r = 0; r < c->nrows; r++)
		{
			double	   *row = c->rows + (Size) r * st->stash_width;
			double		err = row[st->stash_width - 1] - ModelPredictDesign(model, row);

			sse += err * err;
			sae += fabs(err);
			kept++;
		}
	}
	if (summed + kept != st->acc.n)
		elog(ERROR, "test rows: %lld summed and %lld kept, but %lld seen",
			 (long long) summed, (long long) kept, (long long) st->acc.n);
	elog(DEBUG1, "test errors from %lld summed and %lld kept rows", (long long) summed,
		 (long long) kept);
	*acc = st->acc;				/* count, mean and variance of the target */
	acc->sse = sse;
	acc->sae = sae;
	return true;
}

/*
 * Test metrics of a regression: from the kept test rows, or by one more
 * scan (when they did not fit in memory, or when there are none: then
 * the metrics describe the training rows).
 */
static void
regression_test_metrics(TrainRun *run, PassState *st)
{
	MetricAcc	acc;

	memset(&acc, 0, sizeof(acc));
	if (st->rows_test > 0 && !st->stash_overflow && st->abserr != NULL &&
		sums_test_metrics(run, st, &acc))
		;
	else if (st->rows_test > 0 && !st->stash_overflow && st->abserr == NULL)
	{
		for (StashChunk *c = st->stash; c != NULL; c = c->next)
		{
			CHECK_FOR_INTERRUPTS();
			for (int r = 0; r < c->nrows; r++)
			{
				double	   *row = c->rows + (Size) r * st->stash_width;

				MetricAccAdd(&acc, row[st->stash_width - 1], ModelPredictDesign(run->model, row));
			}
		}
	}
	else
	{
		double		saved = run->test_size;
		PassState  *ev;

		run->evaluated_on_train = st->rows_test == 0;
		if (run->evaluated_on_train)
			run->test_size = 0;
		ev = RunPass(run, PASS_EVAL, true);
		run->test_size = saved;
		acc = ev->acc;
	}
	RegressionMetrics(run, &acc);
}

void
FitLeastSquares(TrainRun *run)
{
	PassState  *st = stream_passes(run, PASS_LSQ);
	LsqFit		fit;

	SolveLeastSquares(run, st->lsq, &fit);
	if (run->algorithm == ALGO_LINEAR)
	{
		refine_linear(run, st->lsq);
		if (run->refinement_passes > 0 && fit.tss > 0)
			fit.r2 = 1.0 - LsqRss(st->lsq, run->model->intercept, run->model->coef) / fit.tss;
	}
	regression_test_metrics(run, st);
	BaselineFromStash(run, st);
	MetricNumber(run, "train_r2", fit.r2);
	if (run->algorithm == ALGO_LINEAR)
	{
		MetricNumber(run, "df_resid", fit.df_resid);
		MetricNumber(run, "condition_number", 1.0 / LsqRcond(st->lsq, &run->lsq_opts));
		MetricNumber(run, "refinement_passes", run->refinement_passes);
	}
}

/* ---- naive Bayes ---- */

void
FitNaiveBayesStream(TrainRun *run)
{
	PassState  *st = stream_passes(run, PASS_NB);
	Model	   *model = run->model;
	NbModel		nb;
	int			K = model->nclasses;
	int			p = model->pre.ndesign;
	ClassEval  *ev;
	double	   *proba = palloc(sizeof(double) * K);

	NbFinish(st->nb, run->hp.var_smoothing, &nb);
	model->nb_prior = MemoryContextAlloc(model->mcxt, sizeof(double) * K);
	model->nb_mean = MemoryContextAlloc(model->mcxt, sizeof(double) * K * Max(p, 1));
	model->nb_var = MemoryContextAlloc(model->mcxt, sizeof(double) * K * Max(p, 1));
	memcpy(model->nb_prior, nb.prior, sizeof(double) * K);
	memcpy(model->nb_mean, nb.mean, sizeof(double) * K * p);
	memcpy(model->nb_var, nb.var, sizeof(double) * K * p);

	if (st->stash_overflow)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the rows kept for the metrics need more memory than aifactory.train_memory allows"),
				 errhint("Raise aifactory.train_memory%s.",
						 run->test_size > 0 ? ", or lower test_size" :
						 " (with test_size 0 every row is kept to measure the model)")));
	/* nothing held out (test_size 0): the kept rows are the training rows */
	run->evaluated_on_train = st->rows_test == 0;
	ev = ClassEvalCreate(K, st->stash_rows);
	for (StashChunk *c = st->stash; c != NULL; c = c->next)
	{
		CHECK_FOR_INTERRUPTS();
		for (int r = 0; r < c->nrows; r++)
		{
			double	   *row = c->rows + (Size) r * st->stash_width;
			int			cls = ModelPredictClass(model, row, proba);

			ClassEvalAdd(ev, (int) row[p], proba, cls);
		}
	}
	ClassificationMetrics(run, ev);
	BaselineFromStash(run, st);
}

/* ---- PCA ---- */

/*
 * Fit PCA from the covariance state of the training rows and store it in
 * the model with its metrics.  Shared with the in-memory path, which feeds
 * the state from loaded (standardized) rows.
 */
void
SolvePca(TrainRun *run, CovState *cov)
{
	Model	   *model = run->model;
	int			p = model->pre.ndesign;
	int			ncomp = run->hp.n_components > 0 ? run->hp.n_components :
		(int) Min((int64) p, cov->n);
	PcaModel	pca;
	double		kept = 0;

	if (ncomp > p)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_components (%d) is larger than the number of design columns (%d)", ncomp, p),
				 errhint("Leave n_components out to keep every component.")));
	if (cov->n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("PCA needs at least two rows")));
	PcaFit(cov, ncomp, &pca);
	model->ncomp = pca.ncomp;
	model->pca_mean = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(p, 1));
	model->components = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(pca.ncomp * p, 1));
	model->explained_variance = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(pca.ncomp, 1));
	memcpy(model->pca_mean, pca.mean, sizeof(double) * p);
	memcpy(model->components, pca.components, sizeof(double) * pca.ncomp * p);
	memcpy(model->explained_variance, pca.explained_variance, sizeof(double) * pca.ncomp);
	for (int c = 0; c < pca.ncomp; c++)
		kept += pca.explained_variance_ratio[c];
	run->evaluated_on_train = true;
	MetricNumber(run, "explained_variance", kept);
	MetricArray(run, "explained_variance_ratio", pca.explained_variance_ratio, pca.ncomp);
	MetricNumber(run, "n_components", pca.ncomp);
}

void
FitPcaStream(TrainRun *run)
{
	PassState  *st = stream_passes(run, PASS_COV);

	SolvePca(run, st->cov);
}

/*-------------------------------------------------------------------------
 *
 * fit_memory.c
 *	  The iterative algorithms, fitted on the source loaded into memory
 *	  once (dataset.c): elastic net, logistic regression, k-means, the tree
 *	  ensembles; and the one-pass algorithms too when their imputation is
 *	  not the mean.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/elasticnet.h"
#include "algorithms/gbdt.h"
#include "algorithms/kmeans.h"
#include "algorithms/logistic.h"
#include "algorithms/lsq.h"
#include "algorithms/naivebayes.h"
#include "algorithms/pca.h"
#include "core/blas.h"
#include "jobs/jobs.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "train/dataset.h"
#include "train/train_internal.h"

/* rows the silhouette is estimated on (sklearn's sample_size) */
#define SILHOUETTE_SAMPLE 5000

/* Row r of a column-major n x p matrix, gathered into buf. */
static void
gather_row(const double *X, int64 n, int p, int64 r, double *buf)
{
	for (int j = 0; j < p; j++)
		buf[j] = X[(Size) j * n + r];
}

static int
compare_uint64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * A load that collected the class labels on the way left each row's label
 * hash in the target slot: now that the classes are known, the hashes of
 * their labels, for DatasetBuild to put the class indices there instead.
 */
static DatasetLabels *
label_hashes(TrainRun *run, PassState *st)
{
	Model	   *model = run->model;
	DatasetLabels *labels = palloc(sizeof(DatasetLabels));
	uint64	   *pairs;
	uint64	   *hash;
	int		   *cls;
	int			K;

	ApplyClasses(run, st->target_dict);
	K = model->nclasses;
	/* (hash, class) pairs sorted by hash: two words each */
	pairs = palloc(sizeof(uint64) * 2 * Max(K, 1));
	for (int c = 0; c < K; c++)
	{
		pairs[2 * c] = hash_bytes_extended((const unsigned char *) model->classes[c],
										   strlen(model->classes[c]), 0);
		pairs[2 * c + 1] = (uint64) c;
	}
	qsort(pairs, K, sizeof(uint64) * 2, compare_uint64);
	hash = palloc(sizeof(uint64) * Max(K, 1));
	cls = palloc(sizeof(int) * Max(K, 1));
	for (int c = 0; c < K; c++)
	{
		hash[c] = pairs[2 * c];
		cls[c] = (int) pairs[2 * c + 1];
		if (c > 0 && hash[c] == hash[c - 1])
			elog(ERROR, "two class labels share a 64-bit hash");
	}
	pfree(pairs);
	labels->nclasses = K;
	labels->hash = hash;
	labels->cls = cls;
	return labels;
}

static Dataset *
load(TrainRun *run)
{
	Model	   *model = run->model;
	PassState  *st;
	Dataset    *ds;
	instr_time	t0;
	instr_time	t1;

	/* categories must be known to encode rows; class labels can wait */
	if (HasCategoricalFeatures(model))
	{
		LayoutDesign(run);
		st = RunPass(run, PASS_PROFILE, false);
		if (st == NULL || st->rows_train + st->rows_test == 0)
			NoRowsError(run, st);
		ApplyProfile(run, st, true);
	}
	LayoutDesign(run);

	/* NULLs stay NaN in memory; imputation follows the split */
	for (int i = 0; i < model->pre.nfeatures; i++)
		model->pre.features[i].impute = NAN;
	st = RunPass(run, PASS_LOAD, true);
	if (st == NULL || st->rows_train + st->rows_test == 0)
		NoRowsError(run, st);
	if (st->stash_overflow)
	{
		int64		rows = st->rows_train + st->rows_test;
		double		mb = 2.0 * rows * st->stash_width * sizeof(double) / (1024.0 * 1024.0);

		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s needs about %.1f MB to hold %lld rows in memory, more than aifactory.train_memory allows",
						AlgorithmName(run->algorithm), mb, (long long) rows),
				 errhint("SET aifactory.train_memory = '%.0fMB', or train on fewer rows or features.",
						 ceil(mb * 1.1))));
	}
	INSTR_TIME_SET_CURRENT(t0);
	ds = DatasetBuild(st, model, run->test_size, run->hp.impute,
					  st->target_dict ? label_hashes(run, st) : NULL);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	elog(DEBUG1, "dataset build %.3f s", INSTR_TIME_GET_DOUBLE(t1));
	if (ds->ntrain == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no rows are left for training after the test split"),
				 errhint("Lower test_size or use more rows.")));
	run->train_rows = ds->ntrain;
	run->test_rows = ds->ntest;
	return ds;
}

/*
 * Coefficients fitted on standardized columns, back on the original
 * scale: w_j / s_j, and the intercept less sum w_j c_j / s_j.  The model
 * then needs no scaling at prediction.
 */
static void
unstandardize_model(Model *model, const double *center, const double *scale)
{
	int			p = model->pre.ndesign;

	for (int k = 0; k < model->nsets; k++)
	{
		double	   *w = model->coef + (Size) k * p;

		for (int j = 0; j < p; j++)
		{
			w[j] /= scale[j];
			model->intercepts[k] -= w[j] * center[j];
		}
	}
	model->intercept = model->intercepts[0];
}

/* Regression metrics of the model on the test rows (or training rows). */
static void
regression_metrics(TrainRun *run, Dataset *ds, double *row)
{
	MetricAcc	acc;
	bool		on_train = ds->ntest == 0;
	const double *X = on_train ? ds->Xtrain : ds->Xtest;
	const double *y = on_train ? ds->ytrain : ds->ytest;
	int64		n = on_train ? ds->ntrain : ds->ntest;

	memset(&acc, 0, sizeof(acc));
	run->evaluated_on_train = on_train;
	for (int64 r = 0; r < n; r++)
	{
		if ((r & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		gather_row(X, n, ds->p, r, row);
		MetricAccAdd(&acc, y[r], ModelPredictDesign(run->model, row));
	}
	RegressionMetrics(run, &acc);
}

/* rows whose decision values the logistic metrics compute at once */
#define METRICS_BLOCK_ROWS 1024

/*
 * The metrics of a logistic model fitted on ds's rows as they are (no
 * scaling in the model): the decision values by blocks of BLAS-3 work,
 * then each row's class and probabilities as predict() finds them
 * (LogisticClassFromDecision).
 */
static void
logistic_metrics(TrainRun *run, const double *X, const double *y, int64 n, ClassEval *ev)
{
	Model	   *model = run->model;
	LogisticModel lm;
	int			S = model->nsets;
	double	   *Z = palloc(sizeof(double) * METRICS_BLOCK_ROWS * S);
	double	   *scores = palloc(sizeof(double) * Max(model->nclasses, S));

	memset(&lm, 0, sizeof(lm));
	lm.p = model->pre.ndesign;
	lm.nclasses = model->nclasses;
	lm.nsets = S;
	lm.coef = model->coef;
	lm.intercept = model->intercepts;
	for (int64 r0 = 0; r0 < n; r0 += METRICS_BLOCK_ROWS)
	{
		int			rows = (int) Min((int64) METRICS_BLOCK_ROWS, n - r0);

		CHECK_FOR_INTERRUPTS();
		LogisticDecisionMany(&lm, X + r0, n, rows, Z);
		for (int i = 0; i < rows; i++)
		{
			int			cls;

			for (int k = 0; k < S; k++)
				scores[k] = Z[(Size) k * rows + i];
			cls = LogisticClassFromDecision(model, scores);
			ClassEvalAdd(ev, (int) y[r0 + i], scores, cls);
		}
	}
	pfree(Z);
	pfree(scores);
}

static void
classification_metrics(TrainRun *run, Dataset *ds, double *row)
{
	bool		on_train = ds->ntest == 0;
	const double *X = on_train ? ds->Xtrain : ds->Xtest;
	const double *y = on_train ? ds->ytrain : ds->ytest;
	int64		n = on_train ? ds->ntrain : ds->ntest;
	int			K = run->model->nclasses;
	double	   *proba = palloc(sizeof(double) * K);
	ClassEval  *ev = ClassEvalCreate(K, n);

	run->evaluated_on_train = on_train;
	if (run->model->algorithm == ALGO_LOGISTIC && !run->model->pre.scaled)
	{
		logistic_metrics(run, X, y, n, ev);
		ClassificationMetrics(run, ev);
		return;
	}
	for (int64 r = 0; r < n; r++)
	{
		int			cls;

		if ((r & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		gather_row(X, n, ds->p, r, row);
		cls = ModelPredictClass(run->model, row, proba);
		ClassEvalAdd(ev, (int) y[r], proba, cls);
	}
	ClassificationMetrics(run, ev);
}

static void
set_linear(Model *model, int nsets, const double *coef, const double *intercept)
{
	int			p = model->pre.ndesign;

	model->nsets = nsets;
	model->coef = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(nsets * p, 1));
	memcpy(model->coef, coef, sizeof(double) * nsets * p);
	model->intercepts = MemoryContextAlloc(model->mcxt, sizeof(double) * nsets);
	memcpy(model->intercepts, intercept, sizeof(double) * nsets);
	model->intercept = model->intercepts[0];
}

static void
fit_elastic_net(TrainRun *run, Dataset *ds, double *center, double *scale, double *row)
{
	ElasticNetOptions opts;
	ElasticNetFit fit;

	ElasticNetOptionsInit(&opts);
	opts.alpha = run->hp.alpha;
	opts.l1_ratio = run->hp.l1_ratio;
	opts.max_iter = run->hp.max_iter;
	opts.tol = run->hp.tol;
	opts.fit_intercept = run->hp.intercept;
	ElasticNetFitDense(ds->Xtrain, ds->ytrain, ds->ntrain, ds->p, &opts, &fit);
	run->model->fit_intercept = run->hp.intercept;
	set_linear(run->model, 1, fit.coef, &fit.intercept);
	if (!fit.converged)
		ereport(NOTICE,
				(errmsg("elastic net did not converge in %d iterations (duality gap %g)",
						fit.n_iter, fit.dual_gap),
				 errhint("Raise max_iter or tol, or standardize the features.")));
	/* measured on the standardized rows, then stored on the original scale */
	regression_metrics(run, ds, row);
	if (center)
		unstandardize_model(run->model, center, scale);
	MetricNumber(run, "n_iter", fit.n_iter);
	MetricNumber(run, "converged", fit.converged ? 1 : 0);
	{
		int			nonzero = 0;

		for (int j = 0; j < ds->p; j++)
			if (run->model->coef[j] != 0)
				nonzero++;
		MetricNumber(run, "nonzero_coefficients", nonzero);
	}
}

static void
fit_logistic(TrainRun *run, Dataset *ds, double *center, double *scale, double *row)
{
	Model	   *model = run->model;
	LogisticOptions opts;
	LogisticModel lm;
	int		   *y = palloc(sizeof(int) * Max(ds->ntrain, 1));

	for (int64 r = 0; r < ds->ntrain; r++)
		y[r] = (int) ds->ytrain[r];
	LogisticDefaultOptions(&opts);
	opts.C = run->hp.C;
	opts.fit_intercept = run->hp.intercept;
	opts.max_iter = run->hp.max_iter;
	opts.tol = run->hp.tol;
	LogisticFit(ds->Xtrain, ds->ntrain, ds->p, y, model->nclasses, &opts, &lm);
	pfree(y);
	model->fit_intercept = run->hp.intercept;
	set_linear(model, lm.nsets, lm.coef, lm.intercept);
	if (!lm.converged)
		ereport(NOTICE,
				(errmsg("logistic regression did not converge in %d iterations", lm.n_iter),
				 errhint("Raise max_iter, or standardize the features.")));
	/* measured on the standardized rows, then stored on the original scale */
	classification_metrics(run, ds, row);
	if (center)
		unstandardize_model(model, center, scale);
	MetricNumber(run, "n_iter", lm.n_iter);
	MetricNumber(run, "converged", lm.converged ? 1 : 0);
}

static void
fit_kmeans(TrainRun *run, Dataset *ds)
{
	Model	   *model = run->model;
	KMeansOptions opts;
	KMeansModel km;
	int		   *labels;
	int64		n = ds->ntrain;
	int			p = ds->p;

	KMeansDefaultOptions(&opts);
	opts.n_clusters = run->hp.n_clusters;
	opts.n_init = run->hp.n_init;
	opts.max_iter = run->hp.max_iter;
	opts.tol = run->hp.tol;
	opts.seed = (uint64) (uint32) run->seed;
	if (opts.n_clusters > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_clusters (%d) is larger than the number of rows (%lld)",
						opts.n_clusters, (long long) n),
				 errhint("Ask for fewer clusters.")));
	labels = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * Max(n, 1));
	KMeansFit(ds->Xtrain, n, p, &opts, &km, labels);
	model->k = km.k;
	model->centers = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(km.k * p, 1));
	memcpy(model->centers, km.centers, sizeof(double) * km.k * p);
	run->evaluated_on_train = true;
	MetricNumber(run, "inertia", km.inertia);
	MetricNumber(run, "silhouette",
				 SilhouetteSampled(ds->Xtrain, n, p, labels, km.k, SILHOUETTE_SAMPLE,
								   (uint64) (uint32) run->seed));
	MetricNumber(run, "n_iter", km.n_iter);
	{
		double	   *sizes = palloc0(sizeof(double) * km.k);

		for (int64 r = 0; r < n; r++)
			sizes[labels[r]] += 1;
		MetricArray(run, "cluster_sizes", sizes, km.k);
	}
}

static void
fit_naive_bayes(TrainRun *run, Dataset *ds, double *row)
{
	Model	   *model = run->model;
	int			K = model->nclasses;
	int			p = ds->p;
	NbState    *nbs = NbCreate(K, p);
	NbModel		nb;

	for (int64 r = 0; r < ds->ntrain; r++)
	{
		if ((r & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		gather_row(ds->Xtrain, ds->ntrain, p, r, row);
		NbAdd(nbs, (int) ds->ytrain[r], row);
	}
	NbFinish(nbs, run->hp.var_smoothing, &nb);
	model->nb_prior = MemoryContextAlloc(model->mcxt, sizeof(double) * K);
	model->nb_mean = MemoryContextAlloc(model->mcxt, sizeof(double) * K * Max(p, 1));
	model->nb_var = MemoryContextAlloc(model->mcxt, sizeof(double) * K * Max(p, 1));
	memcpy(model->nb_prior, nb.prior, sizeof(double) * K);
	memcpy(model->nb_mean, nb.mean, sizeof(double) * K * p);
	memcpy(model->nb_var, nb.var, sizeof(double) * K * p);
	classification_metrics(run, ds, row);
}

/* A copy of a fitted ensemble in the model's memory. */
static TreeEnsemble *
copy_trees(const TreeEnsemble *src, MemoryContext mcxt)
{
	TreeEnsemble *ens = MemoryContextAlloc(mcxt, sizeof(TreeEnsemble));
	int			nn = Max(src->nnodes, 1);

	*ens = *src;
	ens->roots = MemoryContextAlloc(mcxt, sizeof(int32) * Max(src->ntrees, 1));
	memcpy(ens->roots, src->roots, sizeof(int32) * src->ntrees);
	ens->tree_output = MemoryContextAlloc(mcxt, sizeof(int32) * Max(src->ntrees, 1));
	memcpy(ens->tree_output, src->tree_output, sizeof(int32) * src->ntrees);
	ens->nodes = MemoryContextAllocHuge(mcxt, sizeof(TreeNode) * nn);
	memcpy(ens->nodes, src->nodes, sizeof(TreeNode) * src->nnodes);
	ens->cover = MemoryContextAllocHuge(mcxt, sizeof(double) * nn);
	memcpy(ens->cover, src->cover, sizeof(double) * src->nnodes);
	ens->gain = MemoryContextAllocHuge(mcxt, sizeof(double) * nn);
	memcpy(ens->gain, src->gain, sizeof(double) * src->nnodes);
	if (src->nvalues > 1)
	{
		Size		nv = (Size) src->nleaves * src->nvalues;

		ens->leaf_values = MemoryContextAllocHuge(mcxt, sizeof(double) * Max(nv, 1));
		memcpy(ens->leaf_values, src->leaf_values, sizeof(double) * nv);
	}
	ens->base_score = MemoryContextAlloc(mcxt, sizeof(double) * src->noutputs);
	memcpy(ens->base_score, src->base_score, sizeof(double) * src->noutputs);
	return ens;
}

/*
 * Move the training rows picked for validation (a seeded fraction, by row
 * position, which the load keeps stable) out of ds->Xtrain into their own
 * matrix; the remaining rows are compacted in place, column after column
 * (each write lands at or before its read, so nothing is overwritten
 * before it is moved).
 */
static int64
split_validation(Dataset *ds, double fraction, uint64 seed, double **Xval, double **yval)
{
	int64		n = ds->ntrain;
	int			p = ds->p;
	bool	   *is_val = palloc(sizeof(bool) * Max(n, 1));
	int64		nval = 0;
	int64		nfit;
	double	   *xv;
	double	   *yv;

	for (int64 r = 0; r < n; r++)
	{
		uint64		h = hash_bytes_uint32_extended((uint32) r, seed) ^ ((uint64) (r >> 32) << 7);

		is_val[r] = (double) (h >> 11) * (1.0 / 9007199254740992.0) < fraction;
		nval += is_val[r];
	}
	nfit = n - nval;
	if (nval == 0 || nfit == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("early stopping needs validation rows: %lld training rows at validation_fraction %g leave %lld",
						(long long) n, fraction, (long long) nval),
				 errhint("Raise validation_fraction, use more rows, or leave early_stopping_rounds out.")));
	xv = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * nval * Max(p, 1));
	yv = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * nval);
	for (int j = 0; j < p; j++)
	{
		const double *src = ds->Xtrain + (Size) j * n;
		double	   *dst = ds->Xtrain + (Size) j * nfit;
		int64		kf = 0;
		int64		kv = 0;

		CHECK_FOR_INTERRUPTS();
		for (int64 r = 0; r < n; r++)
		{
			if (is_val[r])
				xv[(Size) j * nval + kv++] = src[r];
			else
				dst[kf++] = src[r];
		}
	}
	{
		int64		kf = 0;
		int64		kv = 0;

		for (int64 r = 0; r < n; r++)
		{
			if (is_val[r])
				yv[kv++] = ds->ytrain[r];
			else
				ds->ytrain[kf++] = ds->ytrain[r];
		}
	}
	pfree(is_val);
	ds->ntrain = nfit;
	*Xval = xv;
	*yval = yv;
	return nval;
}

/*
 * gbdt and random_forest: bin the training rows once, grow the ensemble,
 * keep it in the model.  The objective follows the task and the number of
 * classes (XGBoost's binary:logistic for two, multi:softprob for more,
 * unless multi:softprob was asked for two).
 */
static void
fit_trees(TrainRun *run, Dataset *ds, double *row, const TreeBins *prebinned)
{
	Model	   *model = run->model;
	bool		classify = run->task == TASK_CLASSIFICATION;
	int			K = classify ? model->nclasses : 0;
	const TreeBins *bins;
	TreeEnsemble *ens;
	double	   *Xval = NULL;
	double	   *yval = NULL;
	int64		nval = 0;

	if (classify && run->hp.tree_task == TREE_TASK_BINARY && K != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("objective binary:logistic needs two classes, but \"%s\" has %d",
						run->target, K),
				 errhint("Use multi:softprob, or leave objective out.")));
	if (run->algorithm == ALGO_GBDT && run->hp.early_stopping_rounds > 0)
	{
		/* the validation rows leave the training rows: bin what is left */
		nval = split_validation(ds, run->hp.validation_fraction,
								(uint64) (uint32) run->seed, &Xval, &yval);
		prebinned = NULL;
	}

	bins = prebinned ? prebinned :
		TreeBinsBuild(ds->Xtrain, ds->ntrain, ds->p, run->hp.max_bin);
	if (run->algorithm == ALGO_GBDT)
	{
		GbdtOptions opts;
		GbdtFitInfo info;

		GbdtDefaultOptions(&opts);
		if (!classify)
		{
			opts.objective = TREE_SQUARED_ERROR;
			run->hp.tree_task = TREE_TASK_REGRESSION;
		}
		else if (K == 2 && run->hp.tree_task != TREE_TASK_MULTICLASS)
		{
			opts.objective = TREE_LOGISTIC;
			run->hp.tree_task = TREE_TASK_BINARY;
		}
		else
		{
			opts.objective = TREE_SOFTMAX;
			run->hp.tree_task = TREE_TASK_MULTICLASS;
		}
		opts.nclasses = K;
		opts.n_estimators = run->hp.n_estimators;
		opts.max_depth = run->hp.max_depth;
		opts.learning_rate = run->hp.learning_rate;
		opts.min_child_weight = run->hp.min_child_weight;
		opts.reg_lambda = run->hp.reg_lambda;
		opts.gamma = run->hp.gamma;
		opts.subsample = run->hp.subsample;
		opts.colsample_bytree = run->hp.colsample_bytree;
		opts.early_stopping_rounds = run->hp.early_stopping_rounds;
		opts.seed = (uint64) (uint32) run->seed;
		ens = GbdtFit(bins, ds->ytrain, &opts, Xval, nval, yval, &info);
		MetricNumber(run, "n_rounds", info.n_rounds);
		if (opts.early_stopping_rounds > 0)
		{
			MetricNumber(run, "best_round", info.best_round);
			MetricNumber(run, "best_validation_loss", info.best_valid_loss);
			MetricNumber(run, "validation_rows", (double) nval);
		}
	}
	else
	{
		ForestOptions opts;

		ForestDefaultOptions(&opts);
		opts.nclasses = K;
		opts.n_estimators = run->hp.n_estimators;
		opts.max_depth = run->hp.max_depth;
		opts.min_samples_leaf = run->hp.min_samples_leaf;
		opts.max_features = MaxFeaturesFraction(&run->hp, ds->p, classify);
		if (run->hp.max_features == MAX_FEATURES_UNSET)
			run->hp.max_features = classify ? MAX_FEATURES_SQRT : 1.0;
		run->hp.tree_task = classify ? TREE_TASK_MULTICLASS : TREE_TASK_REGRESSION;
		opts.bootstrap = run->hp.bootstrap;
		opts.seed = (uint64) (uint32) run->seed;
		ens = ForestFit(bins, ds->ytrain, &opts);
	}
	model->trees = copy_trees(ens, model->mcxt);
	MetricNumber(run, "n_trees", ens->ntrees);
	MetricNumber(run, "n_nodes", ens->nnodes);
	if (classify)
		classification_metrics(run, ds, row);
	else
		regression_metrics(run, ds, row);
}

static void
fit_least_squares(TrainRun *run, Dataset *ds, double *row)
{
	int			p = ds->p;
	LsqState   *lsq = LsqCreate(p + 2);
	LsqFit		fit;
	double	   *arow = palloc(sizeof(double) * (p + 2));

	arow[0] = 1.0;
	for (int64 r = 0; r < ds->ntrain; r++)
	{
		gather_row(ds->Xtrain, ds->ntrain, p, r, arow + 1);
		arow[p + 1] = ds->ytrain[r];
		LsqAddRow(lsq, arow);
	}
	SolveLeastSquares(run, lsq, &fit);
	regression_metrics(run, ds, row);
	MetricNumber(run, "train_r2", fit.r2);
}

static void
fit_pca(TrainRun *run, Dataset *ds, double *row)
{
	CovState   *cov = CovCreate(Max(ds->p, 1));

	for (int64 r = 0; r < ds->ntrain; r++)
	{
		gather_row(ds->Xtrain, ds->ntrain, ds->p, r, row);
		CovAddRow(cov, row);
	}
	SolvePca(run, cov);
}

void
FitInMemory(TrainRun *run)
{
	Dataset    *ds = FitLoadDataset(run);

	JobReportProgress("fitting", 0.3);
	FitDataset(run, ds, NULL);
	/* its pages go back while the model is registered */
	DatasetRelease(ds);
}

/* The source loaded, split and imputed (dataset.c), for the fits below. */
Dataset *
FitLoadDataset(TrainRun *run)
{
	Dataset    *ds;
	instr_time	t0;
	instr_time	t1;

	INSTR_TIME_SET_CURRENT(t0);
	ds = load(run);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	elog(DEBUG1, "loading the dataset: %.3f s", INSTR_TIME_GET_DOUBLE(t1));
	INSTR_TIME_SET_CURRENT(t0);
	BaselineFeatures(run, ds);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	elog(DEBUG1, "baseline of the features: %.3f s", INSTR_TIME_GET_DOUBLE(t1));
	return ds;
}

/*
 * Fit run's algorithm on the training rows of ds and measure it on its
 * test rows (or training rows, without test rows), leaving the metrics in
 * run->metrics.  ds is modified (standardized in place; for early stopping
 * its training rows are compacted).  bins, when not NULL, is ds's training
 * rows already binned with run->hp.max_bin (the trees then skip binning).
 */
void
FitDataset(TrainRun *run, Dataset *ds, const TreeBins *bins)
{
	Model	   *model = run->model;
	double	   *row;
	double	   *center = NULL;
	double	   *scale = NULL;
	bool		standardize;
	instr_time	t0;
	instr_time	t1;

	row = palloc(sizeof(double) * Max(ds->p, 1));
	INSTR_TIME_SET_CURRENT(t0);
	standardize = run->hp.standardize &&
		(run->algorithm == ALGO_ELASTIC_NET || run->algorithm == ALGO_LOGISTIC ||
		 run->algorithm == ALGO_KMEANS || run->algorithm == ALGO_PCA);

	AifBlasPrepare();
	if (standardize)
	{
		center = palloc(sizeof(double) * Max(ds->p, 1));
		scale = palloc(sizeof(double) * Max(ds->p, 1));
		/* linear models without an intercept: scale, but do not center */
		DatasetStandardize(ds, run->hp.intercept ||
						   run->algorithm == ALGO_KMEANS || run->algorithm == ALGO_PCA,
						   center, scale);
		if (run->algorithm == ALGO_KMEANS || run->algorithm == ALGO_PCA)
		{
			/* these keep their parameters on the standardized scale */
			model->pre.scaled = true;
			model->pre.center = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(ds->p, 1));
			model->pre.scale = MemoryContextAlloc(model->mcxt, sizeof(double) * Max(ds->p, 1));
			memcpy(model->pre.center, center, sizeof(double) * ds->p);
			memcpy(model->pre.scale, scale, sizeof(double) * ds->p);
		}
	}

	switch (run->algorithm)
	{
		case ALGO_LINEAR:
		case ALGO_RIDGE:
			fit_least_squares(run, ds, row);
			break;
		case ALGO_ELASTIC_NET:
			fit_elastic_net(run, ds, center, scale, row);
			break;
		case ALGO_LOGISTIC:
			fit_logistic(run, ds, center, scale, row);
			break;
		case ALGO_NAIVE_BAYES:
			fit_naive_bayes(run, ds, row);
			break;
		case ALGO_KMEANS:
			fit_kmeans(run, ds);
			break;
		case ALGO_PCA:
			fit_pca(run, ds, row);
			break;
		case ALGO_GBDT:
		case ALGO_RANDOM_FOREST:
			fit_trees(run, ds, row, bins);
			break;
	}
	BaselinePredictions(run, ds, center, scale);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	elog(DEBUG1, "fitting and evaluating in memory: %.3f s", INSTR_TIME_GET_DOUBLE(t1));
}

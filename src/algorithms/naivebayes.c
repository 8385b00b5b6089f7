/*-------------------------------------------------------------------------
 *
 * naivebayes.c
 *	  Gaussian naive Bayes (scikit-learn 1.2's GaussianNB).
 *
 * The state keeps per class c and feature j the count n_c, the mean and
 * M2 = sum (x - mean)^2.  A row is added with Welford's update
 *
 *		n += 1;  d = x - mean;  mean += d / n;  M2 += d (x - mean)
 *
 * and two states merge with Chan, Golub and LeVeque's formula
 *
 *		n = na + nb;  d = mb - ma;  mean = ma + d nb / n;
 *		M2 = M2a + M2b + d^2 na nb / n
 *
 * both free of the cancellation of sum-of-squares formulas.  The variance
 * of a feature over all rows, which sklearn uses to scale var_smoothing,
 * is the merge of the class statistics.
 *
 * Serialized layout (native byte order, no alignment assumed):
 *		int32	magic NB_MAGIC
 *		int32	format version NB_FORMAT
 *		int32	nclasses
 *		int32	p
 *		int64	count[nclasses]
 *		float8	mean[nclasses * p]	(row-major)
 *		float8	m2[nclasses * p]
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "algorithms/naivebayes.h"

#define NB_MAGIC		0x424e4641	/* "AFNB" */
#define NB_FORMAT		1
#define NB_HEADER_SIZE	(4 * sizeof(int32))

/* 2^53: counts beyond it are not exact as doubles */
#define NB_MAX_COUNT	INT64CONST(9007199254740992)

static void NbCheckShape(int nclasses, int p);

/* A buffer NbSerialize cannot have written. */
#define NB_CORRUPT(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_DATA_CORRUPTED), \
			 errmsg("invalid naive Bayes state"), \
			 errdetail(__VA_ARGS__)))


/*
 * Shapes come from the caller (feature and class counts of a data set) or
 * from a buffer already validated against them; limit them so every array
 * stays well below palloc's 1 GB.
 */
static void
NbCheckShape(int nclasses, int p)
{
	if (nclasses < 1 || nclasses > NB_MAX_CLASSES || p < 1 || p > NB_MAX_FEATURES ||
		(int64) nclasses * p > NB_MAX_CELLS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("naive Bayes cannot use %d classes and %d features", nclasses, p),
				 errdetail("Between 1 and %d classes and 1 and %d features are supported, "
						   "at most %d class-feature pairs.",
						   NB_MAX_CLASSES, NB_MAX_FEATURES, NB_MAX_CELLS),
				 errhint("Select fewer features, or drop categorical columns with many distinct values.")));
}

NbState *
NbCreate(int nclasses, int p)
{
	NbState    *state;

	NbCheckShape(nclasses, p);
	state = (NbState *) palloc(sizeof(NbState));
	state->nclasses = nclasses;
	state->p = p;
	state->count = (int64 *) palloc0(sizeof(int64) * nclasses);
	state->mean = (double *) palloc0(sizeof(double) * (Size) nclasses * p);
	state->m2 = (double *) palloc0(sizeof(double) * (Size) nclasses * p);
	return state;
}

/*
 * Row-major class x feature arrays grow by appending rows, so the existing
 * statistics stay where they are.
 */
void
NbGrowClasses(NbState *state, int nclasses)
{
	int			old = state->nclasses;
	Size		cells;

	if (nclasses <= old)
		return;
	NbCheckShape(nclasses, state->p);
	cells = (Size) (nclasses - old) * state->p;
	state->count = (int64 *) repalloc(state->count, sizeof(int64) * nclasses);
	memset(state->count + old, 0, sizeof(int64) * (nclasses - old));
	state->mean = (double *) repalloc(state->mean,
									  sizeof(double) * (Size) nclasses * state->p);
	memset(state->mean + (Size) old * state->p, 0, sizeof(double) * cells);
	state->m2 = (double *) repalloc(state->m2,
									sizeof(double) * (Size) nclasses * state->p);
	memset(state->m2 + (Size) old * state->p, 0, sizeof(double) * cells);
	state->nclasses = nclasses;
}

/* Called once per training row: Welford's update of one class's row. */
void
NbAdd(NbState *state, int cls, const double *x)
{
	int			p = state->p;
	double	   *mean;
	double	   *m2;
	double		inv;
	int			j;

	if (unlikely(cls < 0 || cls >= state->nclasses))
		elog(ERROR, "naive Bayes class index %d out of range 0..%d",
			 cls, state->nclasses - 1);
	for (j = 0; j < p; j++)
		if (unlikely(!isfinite(x[j])))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("naive Bayes feature %d is %g", j + 1, x[j]),
					 errhint("Filter out or impute NaN and infinite values.")));

	mean = state->mean + (Size) cls * p;
	m2 = state->m2 + (Size) cls * p;
	inv = 1.0 / (double) ++state->count[cls];
	for (j = 0; j < p; j++)
	{
		double		d = x[j] - mean[j];

		mean[j] += d * inv;
		m2[j] += d * (x[j] - mean[j]);
	}
}

/* The combine step of a parallel aggregate; see the formula on top. */
void
NbMerge(NbState *into, const NbState *from)
{
	int			p = into->p;
	int			c;
	int			j;

	if (from->p != p)
		elog(ERROR, "cannot merge naive Bayes states with %d and %d features",
			 p, from->p);
	NbGrowClasses(into, from->nclasses);

	for (c = 0; c < from->nclasses; c++)
	{
		int64		na = into->count[c];
		int64		nb = from->count[c];
		double	   *ma = into->mean + (Size) c * p;
		double	   *sa = into->m2 + (Size) c * p;
		const double *mb = from->mean + (Size) c * p;
		const double *sb = from->m2 + (Size) c * p;
		double		n;
		double		wb;
		double		wab;

		if ((c & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		if (nb == 0)
			continue;
		if (na == 0)
		{
			memcpy(ma, mb, sizeof(double) * p);
			memcpy(sa, sb, sizeof(double) * p);
			into->count[c] = nb;
			continue;
		}
		n = (double) na + (double) nb;
		wb = (double) nb / n;
		wab = (double) na * wb;
		for (j = 0; j < p; j++)
		{
			double		d = mb[j] - ma[j];

			ma[j] += d * wb;
			sa[j] += sb[j] + d * d * wab;
		}
		into->count[c] = na + nb;
	}
}

Size
NbSerializedSize(const NbState *state)
{
	return NB_HEADER_SIZE + sizeof(int64) * state->nclasses +
		2 * sizeof(double) * (Size) state->nclasses * state->p;
}

/* dst must hold NbSerializedSize(state) bytes and need not be aligned. */
void
NbSerialize(const NbState *state, char *dst)
{
	int32		header[4];
	Size		cells = (Size) state->nclasses * state->p;

	header[0] = NB_MAGIC;
	header[1] = NB_FORMAT;
	header[2] = state->nclasses;
	header[3] = state->p;
	memcpy(dst, header, NB_HEADER_SIZE);
	dst += NB_HEADER_SIZE;
	memcpy(dst, state->count, sizeof(int64) * state->nclasses);
	dst += sizeof(int64) * state->nclasses;
	memcpy(dst, state->mean, sizeof(double) * cells);
	dst += sizeof(double) * cells;
	memcpy(dst, state->m2, sizeof(double) * cells);
}

/*
 * Rebuild a state from NbSerialize's output.  The bytes may come from a
 * parallel worker or from disk: the header is checked before anything is
 * allocated from it, and the statistics are checked for what Welford's
 * and Chan's updates can produce (finite means, finite M2 >= 0, all zero
 * for an empty class), so a bad buffer fails here rather than as NaN
 * predictions later.
 */
NbState *
NbDeserialize(const char *src, Size len)
{
	int32		header[4];
	int			nclasses;
	int			p;
	Size		cells;
	Size		expected;
	NbState    *state;
	int			c;
	int			j;

	if (len < NB_HEADER_SIZE)
		NB_CORRUPT("The state is %zu bytes, shorter than its %zu-byte header.",
				   len, (Size) NB_HEADER_SIZE);
	memcpy(header, src, NB_HEADER_SIZE);
	if (header[0] != NB_MAGIC || header[1] != NB_FORMAT)
		NB_CORRUPT("Unknown magic number 0x%08x or format version %d.",
				   (unsigned int) header[0], (int) header[1]);
	nclasses = header[2];
	p = header[3];
	if (nclasses < 1 || nclasses > NB_MAX_CLASSES || p < 1 || p > NB_MAX_FEATURES ||
		(int64) nclasses * p > NB_MAX_CELLS)
		NB_CORRUPT("Impossible shape: %d classes and %d features.", nclasses, p);
	cells = (Size) nclasses * p;
	expected = NB_HEADER_SIZE + sizeof(int64) * nclasses + 2 * sizeof(double) * cells;
	if (len != expected)
		NB_CORRUPT("The state is %zu bytes, but %d classes and %d features take %zu.",
				   len, nclasses, p, expected);

	state = NbCreate(nclasses, p);
	src += NB_HEADER_SIZE;
	memcpy(state->count, src, sizeof(int64) * nclasses);
	src += sizeof(int64) * nclasses;
	memcpy(state->mean, src, sizeof(double) * cells);
	src += sizeof(double) * cells;
	memcpy(state->m2, src, sizeof(double) * cells);

	for (c = 0; c < nclasses; c++)
	{
		const double *mean = state->mean + (Size) c * p;
		const double *m2 = state->m2 + (Size) c * p;
		int64		n = state->count[c];

		if (n < 0 || n > NB_MAX_COUNT)
			NB_CORRUPT("Class %d has an impossible row count %lld.", c, (long long) n);
		for (j = 0; j < p; j++)
		{
			if (!isfinite(mean[j]) || !isfinite(m2[j]) || m2[j] < 0)
				NB_CORRUPT("Class %d has an invalid mean or spread for feature %d.",
						   c, j + 1);
			if (n == 0 && (mean[j] != 0 || m2[j] != 0))
				NB_CORRUPT("Class %d has no rows but statistics for feature %d.",
						   c, j + 1);
		}
	}
	return state;
}

/*
 * sklearn's fit: priors are class frequencies, variances are population
 * variances (M2 / n) plus epsilon = var_smoothing * the largest variance
 * of a feature over all rows.
 */
void
NbFinish(const NbState *state, double var_smoothing, NbModel *model)
{
	int			k = state->nclasses;
	int			p = state->p;
	double		total = 0;
	double		max_var = 0;
	double	   *tmean;
	double	   *tm2;
	double		tn = 0;
	int			c;
	int			j;

	if (!(var_smoothing >= 0 && isfinite(var_smoothing)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("naive Bayes var_smoothing must be a finite number >= 0, got %g",
						var_smoothing),
				 errhint("var_smoothing is the share of the largest feature variance added "
						 "to every variance, as in scikit-learn (default 1e-9).")));

	for (c = 0; c < k; c++)
		total += (double) state->count[c];
	if (total == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("naive Bayes needs at least one training row"),
				 errhint("Check that the training source is not empty.")));

	/* per-feature variance over all rows: merge the classes */
	tmean = (double *) palloc0(sizeof(double) * p);
	tm2 = (double *) palloc0(sizeof(double) * p);
	for (c = 0; c < k; c++)
	{
		double		nb = (double) state->count[c];
		const double *mb = state->mean + (Size) c * p;
		const double *sb = state->m2 + (Size) c * p;
		double		wb;
		double		wab;

		if (nb == 0)
			continue;
		wb = nb / (tn + nb);
		wab = tn * wb;
		for (j = 0; j < p; j++)
		{
			double		d = mb[j] - tmean[j];

			tmean[j] += d * wb;
			tm2[j] += sb[j] + d * d * wab;
		}
		tn += nb;
	}
	for (j = 0; j < p; j++)
		max_var = Max(max_var, tm2[j] / tn);
	pfree(tmean);
	pfree(tm2);

	model->nclasses = k;
	model->p = p;
	model->epsilon = var_smoothing * max_var;
	model->prior = (double *) palloc(sizeof(double) * k);
	model->mean = (double *) palloc(sizeof(double) * (Size) k * p);
	model->var = (double *) palloc(sizeof(double) * (Size) k * p);
	model->log_norm = NULL;
	for (c = 0; c < k; c++)
	{
		double		n = (double) state->count[c];

		model->prior[c] = n / total;
		for (j = 0; j < p; j++)
		{
			Size		cj = (Size) c * p + j;

			model->mean[cj] = state->mean[cj];
			model->var[cj] = (n > 0 ? state->m2[cj] / n : 0) + model->epsilon;
			if (n > 0 && !(model->var[cj] > 0))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("naive Bayes variance of feature %d is zero in class %d",
								j + 1, c),
						 max_var == 0 ?
						 errhint("Every feature is constant; naive Bayes needs one that varies.") :
						 errhint("Set var_smoothing above 0 (scikit-learn's default is 1e-9).")));
		}
	}
	NbModelPrepare(model);
}

/*
 * The per-class constant of the joint log-likelihood, so that a
 * prediction only pays for the quadratic term.
 */
void
NbModelPrepare(NbModel *model)
{
	int			c;
	int			j;

	if (model->log_norm == NULL)
		model->log_norm = (double *) palloc(sizeof(double) * model->nclasses);
	for (c = 0; c < model->nclasses; c++)
	{
		const double *var = model->var + (Size) c * model->p;
		double		s = 0;

		if (model->prior[c] <= 0)
		{
			model->log_norm[c] = -INFINITY;
			continue;
		}
		for (j = 0; j < model->p; j++)
			s += log(2.0 * M_PI * var[j]);
		model->log_norm[c] = log(model->prior[c]) - 0.5 * s;
	}
}

/*
 * jll_c = log prior_c - 1/2 sum_j log(2 pi var_cj)
 *		   - 1/2 sum_j (x_j - mean_cj)^2 / var_cj,
 * normalized by log-sum-exp.  A class with prior 0 gets -inf (exp of it is
 * 0, so it drops out of the sum).
 */
void
NbPredictLogProba(const NbModel *model, const double *x, double *logproba)
{
	int			k = model->nclasses;
	int			p = model->p;
	double		top = -INFINITY;
	double		sum = 0;
	double		lse;
	int			c;
	int			j;

	for (c = 0; c < k; c++)
	{
		const double *mean = model->mean + (Size) c * p;
		const double *var = model->var + (Size) c * p;
		double		norm;
		double		q = 0;

		if (model->log_norm != NULL)
			norm = model->log_norm[c];
		else if (model->prior[c] <= 0)
			norm = -INFINITY;
		else
		{
			double		s = 0;

			for (j = 0; j < p; j++)
				s += log(2.0 * M_PI * var[j]);
			norm = log(model->prior[c]) - 0.5 * s;
		}
		if (norm == -INFINITY)
		{
			logproba[c] = -INFINITY;
			continue;
		}
		for (j = 0; j < p; j++)
		{
			double		d = x[j] - mean[j];

			q += d * d / var[j];
		}
		logproba[c] = norm - 0.5 * q;
		top = Max(top, logproba[c]);
	}
	if (!isfinite(top))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("naive Bayes log-likelihood is not finite for any class"),
				 errhint("Check the features for NaN, infinite or extreme values.")));
	for (c = 0; c < k; c++)
		sum += exp(logproba[c] - top);
	lse = top + log(sum);
	for (c = 0; c < k; c++)
		logproba[c] -= lse;
}

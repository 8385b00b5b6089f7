/*-------------------------------------------------------------------------
 *
 * pca.c
 *	  Principal component analysis from a mergeable one-pass covariance.
 *
 * Rows are buffered COV_BLOCK_ROWS at a time.  A full buffer is centered
 * on its own mean, its co-moment matrix is added to M2 by one dsyrk, and
 * the difference of the means enters as a rank-one term (Chan, Golub and
 * LeVeque 1979):
 *
 *		M2 = M2_a + M2_b + (n_a n_b / n) d d^T,		d = mean_b - mean_a
 *		mean = mean_a + (n_b / n) d
 *
 * Merging two states is the same update with the other state as block b.
 * Centering each block on its own mean before the products keeps the sums
 * free of the cancellation that sum x x^T - n mean mean^T suffers when
 * the data sit far from the origin; the error of M2 is then that of a
 * two-pass algorithm within each block.
 *
 * The differences of means d must be accurate too, and a mean near 1e9 is
 * only held to ~1e-7 as a double: with a spread of 1e-3 that alone would
 * cost M2 five digits.  So every row is taken relative to an origin, the
 * first row the state folded (close to the data by construction), and the
 * state keeps center = mean - origin, a small number known to full
 * precision.  Within a state d is a difference of such centers; between
 * two states the origins are subtracted first (exact when they are within
 * a factor of two of each other, as nearby rows are).
 *
 * Serialized layout (an array of float8, native byte order, no alignment
 * assumed):
 *		[0]				p
 *		[1]				n
 *		[2 .. p+1]		origin
 *		[p+2 .. 2p+1]	center
 *		[2p+2 ...]		the upper triangle of M2, column by column:
 *						M2[0,0], M2[0,1], M2[1,1], M2[0,2], M2[1,2], ...
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <string.h>

#include "miscadmin.h"

/* keep <complex.h> (and its macro I) out: we only use real routines */
#define LAPACK_COMPLEX_STRUCTURE
#include <cblas.h>
#include <lapacke.h>

#include "algorithms/pca.h"

static void CovFoldBuffer(CovState *state);


CovState *
CovCreate(int p)
{
	CovState   *state;

	if (p < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a covariance needs at least one feature")));
	if (p > COV_MAX_COLS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a covariance cannot have %d features", p),
				 errdetail("At most %d features are supported.", COV_MAX_COLS),
				 errhint("Select fewer features, or drop categorical columns with many distinct values.")));

	state = (CovState *) palloc0(sizeof(CovState));
	state->p = p;
	state->n = 0;
	state->origin = (double *) palloc0(sizeof(double) * p);
	state->center = (double *) palloc0(sizeof(double) * p);
	state->M2 = (double *) palloc0(sizeof(double) * (Size) p * p);
	state->nbuf = 0;
	state->buf = (double *) palloc(sizeof(double) * (Size) COV_BLOCK_ROWS * p);
	state->bmean = (double *) palloc(sizeof(double) * p);
	return state;
}

/* Called once per table row, so it only copies. */
void
CovAddRow(CovState *state, const double *x)
{
	memcpy(state->buf + (Size) state->nbuf * state->p, x, sizeof(double) * state->p);
	state->n++;
	if (++state->nbuf == COV_BLOCK_ROWS)
		CovFoldBuffer(state);
}

void
CovFlush(CovState *state)
{
	CovFoldBuffer(state);
}

/*
 * The pairwise update with from as block b.  Only the upper triangles
 * are read and written.
 */
void
CovMerge(CovState *into, CovState *from)
{
	int			p = into->p;
	double		na;
	double		nb;
	double		nt;
	int			i;
	int			j;

	if (from->p != p)
		elog(ERROR, "cannot merge covariance states with %d and %d features",
			 p, from->p);

	CovFlush(into);
	CovFlush(from);
	if (from->n == 0)
		return;
	if (into->n == 0)
	{
		memcpy(into->origin, from->origin, sizeof(double) * p);
		memcpy(into->center, from->center, sizeof(double) * p);
		memcpy(into->M2, from->M2, sizeof(double) * (Size) p * p);
		into->n = from->n;
		return;
	}

	na = (double) into->n;
	nb = (double) from->n;
	nt = na + nb;
	for (j = 0; j < p; j++)
	{
		const double *src = from->M2 + (Size) j * p;
		double	   *dst = into->M2 + (Size) j * p;

		if ((j & 63) == 0)
			CHECK_FOR_INTERRUPTS();
		for (i = 0; i <= j; i++)
			dst[i] += src[i];
		/* d = mean_b - mean_a, origins first */
		into->bmean[j] = (from->origin[j] - into->origin[j]) +
			(from->center[j] - into->center[j]);
	}
	cblas_dsyr(CblasColMajor, CblasUpper, p, na * nb / nt, into->bmean, 1, into->M2, p);
	cblas_daxpy(p, nb / nt, into->bmean, 1, into->center, 1);
	into->n += from->n;
}

/* origin + center, each feature summed in that order */
void
CovMean(CovState *state, double *mean)
{
	CovFlush(state);
	for (int j = 0; j < state->p; j++)
		mean[j] = state->origin[j] + state->center[j];
}

Size
CovSerializedSize(int p)
{
	return sizeof(double) * (2 + 2 * (Size) p + (Size) p * (p + 1) / 2);
}

/*
 * Write the state in the layout described at the top of the file; dst
 * must hold CovSerializedSize(p) bytes and need not be aligned.
 */
void
CovSerialize(CovState *state, char *dst)
{
	int			p = state->p;
	double		header[2];
	int			j;

	CovFlush(state);
	header[0] = (double) p;
	header[1] = (double) state->n;
	memcpy(dst, header, sizeof(header));
	dst += sizeof(header);
	memcpy(dst, state->origin, sizeof(double) * p);
	dst += sizeof(double) * p;
	memcpy(dst, state->center, sizeof(double) * p);
	dst += sizeof(double) * p;
	for (j = 0; j < p; j++)
	{
		memcpy(dst, state->M2 + (Size) j * p, sizeof(double) * (j + 1));
		dst += sizeof(double) * (j + 1);
	}
}

/*
 * Rebuild a state from CovSerialize's output.  The bytes may come from a
 * parallel worker or from disk, so the header is checked before anything
 * is allocated from it, and the contents before they are used: every
 * value finite, no rows means all zero, at most one row means no spread,
 * and M2 looks like a co-moment matrix (non-negative diagonal,
 * |M2_ij| <= sqrt(M2_ii M2_jj) up to rounding).
 */
CovState *
CovDeserialize(const char *src, Size len)
{
	double		header[2];
	double		pp;
	double		nn;
	int			p;
	int			i;
	int			j;
	CovState   *state;

	if (len < sizeof(header))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid covariance state"),
				 errdetail("The state is %zu bytes, shorter than its header.", len)));
	memcpy(header, src, sizeof(header));
	pp = header[0];
	nn = header[1];
	if (!(pp >= 1 && pp <= COV_MAX_COLS && pp == floor(pp)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid covariance state"),
				 errdetail("The feature count %g is not an integer between 1 and %d.",
						   pp, COV_MAX_COLS)));
	p = (int) pp;
	if (len != CovSerializedSize(p))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid covariance state"),
				 errdetail("The state is %zu bytes, but one with %d features takes %zu.",
						   len, p, CovSerializedSize(p))));
	/* 2^53: beyond it a row count is no longer exact as a double */
	if (!(nn >= 0 && nn <= 9007199254740992.0 && nn == floor(nn)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid covariance state"),
				 errdetail("The row count %g is not a non-negative integer.", nn)));

	state = CovCreate(p);
	state->n = (int64) nn;
	src += sizeof(header);
	memcpy(state->origin, src, sizeof(double) * p);
	src += sizeof(double) * p;
	memcpy(state->center, src, sizeof(double) * p);
	src += sizeof(double) * p;
	for (j = 0; j < p; j++)
	{
		memcpy(state->M2 + (Size) j * p, src, sizeof(double) * (j + 1));
		src += sizeof(double) * (j + 1);
	}

	for (j = 0; j < p; j++)
	{
		const double *col = state->M2 + (Size) j * p;
		double		mjj = col[j];

		if ((j & 63) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!isfinite(state->origin[j]) || !isfinite(state->center[j]) ||
			(state->n == 0 && (state->origin[j] != 0 || state->center[j] != 0)))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid covariance state"),
					 errdetail("The mean of feature %d is %g + %g with %lld rows.",
							   j + 1, state->origin[j], state->center[j],
							   (long long) state->n)));
		if (!(mjj >= 0 && isfinite(mjj)))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid covariance state"),
					 errdetail("The sum of squares of feature %d is %g.", j + 1, mjj)));
		for (i = 0; i < j; i++)
		{
			double		bound = sqrt(state->M2[(Size) i * p + i] * mjj);

			if (!(isfinite(col[i]) && fabs(col[i]) <= bound * (1 + 1e-6) + 1e-300))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("invalid covariance state"),
						 errdetail("The co-moment of features %d and %d is %g, not within the bound %g of their sums of squares.",
								   i + 1, j + 1, col[i], bound)));
		}
		if (state->n <= 1 && mjj != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid covariance state"),
					 errdetail("The sum of squares of feature %d is %g with %lld rows.",
							   j + 1, mjj, (long long) state->n)));
	}
	return state;
}

/*
 * M2 / (n - 1) with both triangles, for dsyevr or for the caller.
 */
void
CovCovariance(CovState *state, double *cov)
{
	int			p = state->p;
	double		scale;
	int			i;
	int			j;

	CovFlush(state);
	if (state->n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a covariance needs at least 2 rows, got %lld",
						(long long) state->n)));
	scale = 1.0 / (double) (state->n - 1);
	for (j = 0; j < p; j++)
	{
		if ((j & 63) == 0)
			CHECK_FOR_INTERRUPTS();
		for (i = 0; i <= j; i++)
		{
			double		v = state->M2[(Size) j * p + i] * scale;

			cov[(Size) j * p + i] = v;
			cov[(Size) i * p + j] = v;
		}
	}
}

/*
 * The n_components largest eigenpairs of the covariance by LAPACK's
 * dsyevr (MRRR), which computes just the requested ones.  dsyevr cannot
 * be interrupted: for p = COV_MAX_COLS it runs for seconds.
 */
void
PcaFit(CovState *state, int n_components, PcaModel *model)
{
	int			p = state->p;
	int64		n;
	int			limit;
	double	   *cov;
	double	   *w;
	double	   *Z;
	lapack_int *isuppz;
	double	   *work;
	lapack_int *iwork;
	double		work_query;
	lapack_int	iwork_query;
	lapack_int	m = 0;
	lapack_int	info;
	double		total = 0;
	double		kept = 0;
	int			c;
	int			j;

	CovFlush(state);
	n = state->n;
	if (n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("PCA needs at least 2 rows, got %lld", (long long) n)));
	limit = (int) Min((int64) p, n);
	if (n_components < 1 || n_components > limit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_components must be between 1 and %d, got %d",
						limit, n_components),
				 errhint("n_components can be at most the smaller of the number of features (%d) and of rows (%lld).",
						 p, (long long) n)));

	cov = (double *) palloc(sizeof(double) * (Size) p * p);
	CovCovariance(state, cov);
	for (j = 0; j < p; j++)
		total += cov[(Size) j * p + j];

	w = (double *) palloc(sizeof(double) * p);
	Z = (double *) palloc(sizeof(double) * (Size) p * n_components);
	isuppz = (lapack_int *) palloc(sizeof(lapack_int) * 2 * n_components);

	CHECK_FOR_INTERRUPTS();
	info = LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, 'V', 'I', 'U', p, cov, p,
							   0.0, 0.0, p - n_components + 1, p,
							   LAPACKE_dlamch('S'), &m, w, Z, p, isuppz,
							   &work_query, -1, &iwork_query, -1);
	if (info != 0)
		elog(ERROR, "dsyevr workspace query failed with info %d", (int) info);
	work = (double *) palloc(sizeof(double) * (Size) work_query);
	iwork = (lapack_int *) palloc(sizeof(lapack_int) * (Size) iwork_query);
	info = LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, 'V', 'I', 'U', p, cov, p,
							   0.0, 0.0, p - n_components + 1, p,
							   LAPACKE_dlamch('S'), &m, w, Z, p, isuppz,
							   work, (lapack_int) work_query, iwork, iwork_query);
	if (info != 0)
		elog(ERROR, "dsyevr failed with info %d (p %d, components %d)",
			 (int) info, p, n_components);
	if (m != n_components)
		elog(ERROR, "dsyevr returned %d eigenpairs instead of %d",
			 (int) m, n_components);
	CHECK_FOR_INTERRUPTS();

	memset(model, 0, sizeof(PcaModel));
	model->p = p;
	model->ncomp = n_components;
	model->n_samples = n;
	model->mean = (double *) palloc(sizeof(double) * p);
	CovMean(state, model->mean);
	model->components = (double *) palloc(sizeof(double) * (Size) n_components * p);
	model->explained_variance = (double *) palloc(sizeof(double) * n_components);
	model->explained_variance_ratio = (double *) palloc(sizeof(double) * n_components);
	model->singular_values = (double *) palloc(sizeof(double) * n_components);
	model->total_variance = total;

	/* dsyevr returns ascending eigenvalues: take them from the end */
	for (c = 0; c < n_components; c++)
	{
		const double *z = Z + (Size) (n_components - 1 - c) * p;
		double	   *comp = model->components + (Size) c * p;
		double		ev = Max(w[n_components - 1 - c], 0.0);	/* rounding */
		int			big = 0;

		for (j = 1; j < p; j++)
			if (fabs(z[j]) > fabs(z[big]))
				big = j;
		for (j = 0; j < p; j++)
			comp[j] = z[big] < 0 ? -z[j] : z[j];

		model->explained_variance[c] = ev;
		model->explained_variance_ratio[c] = total > 0 ? ev / total : NAN;
		model->singular_values[c] = sqrt(ev * (double) (n - 1));
		kept += ev;
	}
	if (n_components < limit)
		model->noise_variance = Max(total - kept, 0.0) / (double) (limit - n_components);
	else
		model->noise_variance = 0;

	pfree(cov);
	pfree(w);
	pfree(Z);
	pfree(isuppz);
	pfree(work);
	pfree(iwork);
}

void
PcaTransform(const PcaModel *model, const double *x, double *out)
{
	int			p = model->p;
	int			c;
	int			j;

	for (c = 0; c < model->ncomp; c++)
	{
		const double *comp = model->components + (Size) c * p;
		double		s = 0;

		for (j = 0; j < p; j++)
			s += comp[j] * (x[j] - model->mean[j]);
		out[c] = s;
	}
}


/*
 * Fold the buffered rows.  They are taken relative to the origin (the
 * first folded row becomes it), centered on their own mean, and their
 * co-moments added with dsyrk: the buffer, row after row, is a p x nb
 * column-major matrix A, and A A^T is the block's co-moment matrix.  Then
 * the pairwise correction for the difference of the two means.
 */
static void
CovFoldBuffer(CovState *state)
{
	int			p = state->p;
	int			nb = state->nbuf;
	double	   *d = state->bmean;
	double		na;
	double		nt;
	int			i;
	int			j;

	if (nb == 0)
		return;
	CHECK_FOR_INTERRUPTS();

	/* state->n already counts the buffered rows */
	na = (double) (state->n - nb);
	nt = (double) state->n;
	if (na == 0)
		memcpy(state->origin, state->buf, sizeof(double) * p);

	memset(d, 0, sizeof(double) * p);
	for (i = 0; i < nb; i++)
	{
		double	   *row = state->buf + (Size) i * p;

		for (j = 0; j < p; j++)
		{
			row[j] -= state->origin[j];
			d[j] += row[j];
		}
	}
	for (j = 0; j < p; j++)
		d[j] /= (double) nb;	/* the block's mean - origin */
	for (i = 0; i < nb; i++)
	{
		double	   *row = state->buf + (Size) i * p;

		for (j = 0; j < p; j++)
			row[j] -= d[j];
	}
	cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, p, nb,
				1.0, state->buf, p, 1.0, state->M2, p);

	for (j = 0; j < p; j++)
		d[j] -= state->center[j];	/* now mean_b - mean_a */
	if (na > 0)
		cblas_dsyr(CblasColMajor, CblasUpper, p, na * nb / nt, d, 1, state->M2, p);
	cblas_daxpy(p, nb / nt, d, 1, state->center, 1);
	state->nbuf = 0;
}

/*-------------------------------------------------------------------------
 *
 * lsq.c
 *	  Least squares by a streaming tall-skinny QR (TSQR).
 *
 * Rows of A = [1 | X | y] are buffered LSQ_BLOCK_ROWS at a time and folded
 * into the d x d upper-triangular factor R with LAPACK's triangular-
 * pentagonal QR (dtpqrt), which knows that the top block is already
 * triangular and so costs about 2 * rows * d^2 flops per fold.  Merging two
 * states folds one R into the other the same way, so the result does not
 * depend (beyond rounding) on how rows were split among states or buffers.
 *
 * Everything the fit needs is read off R, because R^T R = A^T A: the
 * normal equations are never formed, so the accuracy is that of a
 * Householder QR of A (error ~ cond(A) * eps, not cond(A)^2 * eps).
 *
 * R is only determined up to the sign of each row; nothing here depends on
 * those signs.
 *
 * Serialized layout (an array of float8, native byte order, no alignment
 * assumed):
 *		[0]		d
 *		[1]		nrows
 *		[2...]	the upper triangle of R, column by column:
 *				R[0,0], R[0,1], R[1,1], R[0,2], R[1,2], R[2,2], ...
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "miscadmin.h"

/* keep <complex.h> (and its macro I) out: we only use real routines */
#define LAPACK_COMPLEX_STRUCTURE
#include <cblas.h>
#include <lapacke.h>

#include "algorithms/lsq.h"

/*
 * Column block size handed to dtpqrt.  Small blocks let the trailing update
 * run as matrix-matrix products (dtprfb) while each panel stays in cache.
 * Measured with 256-row buffers on one core (AVX-512): d = 22 gives ~9.5M
 * rows/s with nb = 8 against ~7M with a single panel (nb = d); from d ~ 100
 * on, 16..32 is best.  Larger buffers (512, 1024 rows) were slower.
 */
#define LSQ_TPQRT_NB_SMALL	8
#define LSQ_TPQRT_NB_LARGE	32
#define LSQ_TPQRT_NB_SWITCH	64		/* d above which the large block is used */

/*
 * Rank tolerance: design column j is declared a linear combination of the
 * earlier ones (and the intercept) when |R_jj| <= LSQ_RANK_TOL * ||A_j||.
 *
 * |R_jj| / ||A_j|| is the sine of the angle between column j and the span
 * of the columns before it; it does not depend on the column's scale.  For
 * an exact dependency (x2 = 2 * x1, a constant next to the intercept, a
 * copied column, x3 = 0.1 x1 + 0.7 x2) the computed ratio is rounding
 * noise: 0 for power-of-two multiples, otherwise measured ~1e-16 at 100
 * rows, ~5e-15 at 1e6 rows and ~1.5e-14 at 1e7 rows (growing like
 * sqrt(n) as folds accumulate).  A degree-10 polynomial on [-9, -3]
 * (NIST Filip-like, condition number ~1e15 unscaled) is ill-conditioned
 * but of full rank: its smallest ratio is 7.2e-8, and its coefficients
 * still come out to 8 digits.  1e-10 is ~700x below Filip and ~7000x above
 * the noise at 1e7 rows (room for ~1e12 rows at sqrt(n) growth).  R's
 * lm() uses 1e-7 and so drops a term on Filip; we do not.
 */
#define LSQ_RANK_TOL	1e-10

static void LsqTpqrt(LsqState *state, double *A, int lda, int m, int n, int l,
					 double *B, int ldb);
static void LsqFoldBuffer(LsqState *state);
static double *LsqBuildFactor(LsqState *state, const LsqOptions *opts);
static void LsqCheckFlushed(const LsqState *state, int col);


/*
 * Allocate a state for d = k + 2 columns.  R starts all zero: dtpqrt's
 * Householder vectors handle a zero triangle (the first fold is then a
 * plain QR of the first block), so no special first-fold path is needed.
 */
LsqState *
LsqCreate(int d)
{
	LsqState   *state;

	if (d > LSQ_MAX_COLS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("least squares cannot use %d features", d - 2),
				 errdetail("At most %d features are supported.", LSQ_MAX_COLS - 2),
				 errhint("Select fewer features, or drop categorical columns with many distinct values.")));
	if (d < 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("least-squares state needs at least 2 columns, got %d", d),
				 errhint("The columns are the intercept, the features and the target.")));

	state = (LsqState *) palloc0(sizeof(LsqState));
	state->d = d;
	state->nrows = 0;
	state->R = (double *) palloc0(sizeof(double) * (Size) d * d);
	state->nbuf = 0;
	state->buf = (double *) palloc0(sizeof(double) * (Size) LSQ_BLOCK_ROWS * d);
	state->nb = Min(d <= LSQ_TPQRT_NB_SWITCH ? LSQ_TPQRT_NB_SMALL : LSQ_TPQRT_NB_LARGE, d);
	state->scratch = (double *) palloc(sizeof(double) * 2 * (Size) state->nb * d);
	return state;
}

/*
 * Called once per table row, so it only copies: the row goes into the
 * column-major buffer and a full buffer is folded into R.
 */
void
LsqAddRow(LsqState *state, const double *row)
{
	double	   *dst = state->buf + state->nbuf;
	int			d = state->d;
	int			j;

	if (unlikely(row[0] != 1.0))
		elog(ERROR, "least-squares row must start with the intercept column 1, got %g",
			 row[0]);

	for (j = 0; j < d; j++)
		dst[(Size) j * LSQ_BLOCK_ROWS] = row[j];
	state->nrows++;
	if (++state->nbuf == LSQ_BLOCK_ROWS)
		LsqFoldBuffer(state);
}

void
LsqFlush(LsqState *state)
{
	LsqFoldBuffer(state);
}

/*
 * Combine two states (the combine step of a parallel aggregate).  After
 * flushing, R_into := triangular factor of [R_into; R_from].  from->R is
 * copied into into's row buffer in chunks of LSQ_BLOCK_ROWS rows, so no
 * d x d temporary is needed: rows r.. of R_from are zero left of column r,
 * so each chunk only touches the trailing triangle R_into[r:, r:], and as
 * an upper-trapezoidal block it is folded with dtpqrt's l = m.
 *
 * from is flushed but otherwise unchanged.
 */
void
LsqMerge(LsqState *into, LsqState *from)
{
	int			d = into->d;
	int			r;

	if (from->d != d)
		elog(ERROR, "cannot merge least-squares states with %d and %d columns",
			 d, from->d);

	LsqFlush(into);
	LsqFlush(from);
	if (from->nrows == 0)
		return;
	if (into->nrows == 0)
	{
		memcpy(into->R, from->R, sizeof(double) * (Size) d * d);
		into->nrows = from->nrows;
		return;
	}

	for (r = 0; r < d; r += LSQ_BLOCK_ROWS)
	{
		int			m = Min(LSQ_BLOCK_ROWS, d - r);
		int			n = d - r;
		int			jj;

		CHECK_FOR_INTERRUPTS();
		for (jj = 0; jj < n; jj++)
		{
			double	   *dst = into->buf + (Size) jj * LSQ_BLOCK_ROWS;
			const double *src = from->R + (Size) (r + jj) * d + r;
			int			top = Min(m, jj + 1);

			memcpy(dst, src, sizeof(double) * top);
			memset(dst + top, 0, sizeof(double) * (m - top));
		}
		LsqTpqrt(into, into->R + (Size) r * d + r, d, m, n, m,
				 into->buf, LSQ_BLOCK_ROWS);
	}
	into->nrows += from->nrows;
}

Size
LsqSerializedSize(int d)
{
	return sizeof(double) * (2 + (Size) d * (d + 1) / 2);
}

/*
 * Write the state in the layout described at the top of the file; dst
 * must hold LsqSerializedSize(d) bytes and need not be aligned.
 */
void
LsqSerialize(LsqState *state, char *dst)
{
	int			d = state->d;
	double		header[2];
	int			j;

	LsqFlush(state);
	header[0] = (double) d;
	header[1] = (double) state->nrows;
	memcpy(dst, header, sizeof(header));
	dst += sizeof(header);
	for (j = 0; j < d; j++)
	{
		memcpy(dst, state->R + (Size) j * d, sizeof(double) * (j + 1));
		dst += sizeof(double) * (j + 1);
	}
}

/*
 * Rebuild a state from LsqSerialize's output.  The bytes may come from a
 * parallel worker or from disk, so the header is checked before anything
 * is allocated from it.
 */
LsqState *
LsqDeserialize(const char *src, Size len)
{
	double		header[2];
	double		dd;
	double		nn;
	int			d;
	int			j;
	LsqState   *state;

	if (len < sizeof(header))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid least-squares state"),
				 errdetail("The state is %zu bytes, shorter than its header.", len)));
	memcpy(header, src, sizeof(header));
	dd = header[0];
	nn = header[1];
	if (!(dd >= 2 && dd <= LSQ_MAX_COLS && dd == floor(dd)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid least-squares state"),
				 errdetail("The column count %g is not an integer between 2 and %d.",
						   dd, LSQ_MAX_COLS)));
	d = (int) dd;
	if (len != LsqSerializedSize(d))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid least-squares state"),
				 errdetail("The state is %zu bytes, but one with %d columns takes %zu.",
						   len, d, LsqSerializedSize(d))));
	/* 2^53: beyond it a row count is no longer exact as a double */
	if (!(nn >= 0 && nn <= 9007199254740992.0 && nn == floor(nn)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid least-squares state"),
				 errdetail("The row count %g is not a non-negative integer.", nn)));

	state = LsqCreate(d);
	state->nrows = (int64) nn;
	src += sizeof(header);
	for (j = 0; j < d; j++)
	{
		memcpy(state->R + (Size) j * d, src, sizeof(double) * (j + 1));
		src += sizeof(double) * (j + 1);
	}
	return state;
}

/*
 * Column 0 of A is all ones, so row 0 of R is (sqrt n, sum x_j / sqrt n)
 * up to a common sign, and the mean is their ratio.
 */
double
LsqColumnMean(const LsqState *state, int col)
{
	LsqCheckFlushed(state, col);
	if (state->nrows == 0)
		return NAN;
	return state->R[(Size) col * state->d] / state->R[0];
}

/*
 * ||A_j||^2 = sum_{i<=j} R_ij^2, and R_0j^2 = n * mean^2, so the rest of
 * the column is the centered sum of squares -- with no cancellation.
 */
double
LsqColumnStd(const LsqState *state, int col)
{
	double		root_css;

	LsqCheckFlushed(state, col);
	if (state->nrows == 0)
		return NAN;
	root_css = cblas_dnrm2(col, state->R + (Size) col * state->d + 1, 1);
	return root_css / sqrt((double) state->nrows);
}

/*
 * W: the triangular factor of the design actually fitted, d x d with
 * leading dimension d (see LsqSolve).  The caller pfrees it.
 */
static double *
LsqBuildFactor(LsqState *state, const LsqOptions *opts)
{
	int			d = state->d;
	int			k = d - 2;
	int			off = opts->intercept ? 1 : 0;
	int			p = k + off;
	bool		ridge = opts->alpha > 0;
	const double *R = state->R;
	double	   *W;
	int			i;
	int			j;

	W = (double *) palloc(sizeof(double) * (Size) d * d);
	if (opts->intercept)
		memcpy(W, R, sizeof(double) * (Size) d * d);
	else
	{
		/* R[:, 1:] is upper Hessenberg: one rotation per subdiagonal entry */
		memcpy(W, R + d, sizeof(double) * (Size) d * (d - 1));
		for (j = 0; j < d - 1; j++)
		{
			double		f = W[(Size) j * d + j];
			double		g = W[(Size) j * d + j + 1];
			double		h;
			double		c;
			double		s;
			int			jj;

			if ((j & 63) == 0)
				CHECK_FOR_INTERRUPTS();
			if (g == 0)
				continue;
			h = hypot(f, g);
			c = f / h;
			s = g / h;
			for (jj = j; jj < d - 1; jj++)
			{
				double	   *col = W + (Size) jj * d;
				double		t1 = col[j];
				double		t2 = col[j + 1];

				col[j] = c * t1 + s * t2;
				col[j + 1] = c * t2 - s * t1;
			}
			W[(Size) j * d + j + 1] = 0;
		}
	}

	/*
	 * Ridge: fold the k penalty rows sqrt(alpha) s_j e_(off+j) into W.  Row
	 * chunk [r, r + m) is zero left of column off + r and diagonal from
	 * there, i.e. upper trapezoidal in W[off+r:, off+r:].
	 */
	if (ridge)
	{
		double		sa = sqrt(opts->alpha);
		int			r;

		for (r = 0; r < k; r += LSQ_BLOCK_ROWS)
		{
			int			m = Min(LSQ_BLOCK_ROWS, k - r);
			int			c0 = off + r;
			int			n = p + 1 - c0;
			int			jj;

			CHECK_FOR_INTERRUPTS();
			for (jj = 0; jj < n; jj++)
				memset(state->buf + (Size) jj * LSQ_BLOCK_ROWS, 0, sizeof(double) * m);
			for (i = 0; i < m; i++)
			{
				double		s = opts->penalty_scale ? opts->penalty_scale[r + i] : 1.0;

				state->buf[(Size) i * LSQ_BLOCK_ROWS + i] = sa * s;
			}
			LsqTpqrt(state, W + (Size) c0 * d + c0, d, m, n, m,
					 state->buf, LSQ_BLOCK_ROWS);
		}
	}

	return W;
}

/*
 * Fit ordinary or ridge least squares from R (see LsqOptions and LsqFit in
 * lsq.h).  Works on a copy W of the triangular factor of the design that
 * is actually fitted:
 *	  - with an intercept W = R;
 *	  - without, W re-triangularizes R[:, 1:] (upper Hessenberg) by d - 1
 *		Givens rotations, so W^T W = [X | y]^T [X | y];
 *	  - with a ridge penalty the rows sqrt(alpha) * s_j * e_j are folded
 *		into W, so W is the factor of the augmented least-squares problem.
 * The coefficients solve W11 b = w12; the state itself is only flushed.
 */
void
LsqSolve(LsqState *state, const LsqOptions *opts, LsqFit *fit)
{
	int			d = state->d;
	int			k = d - 2;
	int			off = opts->intercept ? 1 : 0;	/* W column of design column 0 */
	int			p = k + off;	/* parameters; W is (p + 1) x (p + 1) */
	bool		ridge = opts->alpha > 0;
	const double *R;
	double	   *W;
	double	   *b;
	double		tss;
	double		rss;
	int64		df;
	int			i;
	int			j;

	LsqFlush(state);
	R = state->R;

	if (!(opts->alpha >= 0 && isfinite(opts->alpha)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ridge penalty alpha must be a finite non-negative number, got %g",
						opts->alpha)));
	if (ridge && opts->penalty_scale != NULL)
	{
		for (j = 0; j < k; j++)
			if (!(opts->penalty_scale[j] >= 0 && isfinite(opts->penalty_scale[j])))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("ridge penalty scale of feature %d must be finite and non-negative, got %g",
								j + 1, opts->penalty_scale[j])));
	}
	if (state->nrows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit least squares to zero rows")));

	memset(fit, 0, sizeof(LsqFit));
	fit->k = k;
	fit->intercept = opts->intercept ? NAN : 0.0;
	fit->beta = (double *) palloc(sizeof(double) * Max(k, 1));
	for (j = 0; j < k; j++)
		fit->beta[j] = NAN;
	fit->intercept_se = NAN;
	fit->se = NULL;
	fit->nrows = state->nrows;
	fit->rank_deficient_col = -1;
	df = state->nrows - p;
	fit->df_resid = (int) Min(df, (int64) INT_MAX);

	/*
	 * Total sum of squares straight from R's last column.  A constant y
	 * leaves rounding noise, not zeros, below R[0, d-1]; it is taken as
	 * constant by the same test that finds a constant design column, so
	 * that r2 comes out NaN rather than as noise over noise.
	 */
	if (opts->intercept)
	{
		tss = cblas_dnrm2(d - 1, R + (Size) (d - 1) * d + 1, 1);
		if (tss <= LSQ_RANK_TOL * cblas_dnrm2(d, R + (Size) (d - 1) * d, 1))
			tss = 0;
	}
	else
		tss = cblas_dnrm2(d, R + (Size) (d - 1) * d, 1);
	tss *= tss;
	fit->tss = tss;

	W = LsqBuildFactor(state, opts);

	/*
	 * Rank: the first design column nearly in the span of those before it.
	 * A penalized column cannot be: its penalty row makes it independent.
	 * An unpenalized one (s_j = 0) is tested against the augmented factor,
	 * where the earlier columns carry their penalty rows.
	 */
	for (j = 0; j < k; j++)
	{
		const double *col = W + (Size) (off + j) * d;
		double		norm;

		if (ridge && (opts->penalty_scale == NULL || opts->penalty_scale[j] > 0))
			continue;
		norm = cblas_dnrm2(off + j + 1, col, 1);
		if (fabs(col[off + j]) <= LSQ_RANK_TOL * norm)
		{
			fit->rank_deficient_col = j;
			break;
		}
	}

	if (fit->rank_deficient_col < 0 && p > 0)
	{
		lapack_int	info;

		b = (double *) palloc(sizeof(double) * p);
		memcpy(b, W + (Size) p * d, sizeof(double) * p);
		info = LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', p, 1,
								   W, d, b, p);
		if (info < 0)
			elog(ERROR, "dtrtrs rejected argument %d", (int) -info);
		if (info > 0)
		{
			/* an exactly zero pivot that the tolerance let through */
			fit->rank_deficient_col = Max((int) info - 1 - off, 0);
		}
		else
		{
			if (opts->intercept)
				fit->intercept = b[0];
			for (j = 0; j < k; j++)
				fit->beta[j] = b[off + j];
		}
		pfree(b);
	}

	if (fit->rank_deficient_col >= 0)
	{
		fit->rss = NAN;
		fit->r2 = NAN;
		pfree(W);
		return;
	}

	/*
	 * Residual sum of squares.  Without a penalty it is the last diagonal
	 * entry squared; with one, that entry also holds the penalty, so the
	 * residual R z with z = (-b0, -b, 1) is formed explicitly.
	 */
	if (!ridge)
		rss = W[(Size) p * d + p] * W[(Size) p * d + p];
	else
	{
		double	   *z = (double *) palloc(sizeof(double) * d);

		z[0] = opts->intercept ? -fit->intercept : 0.0;
		for (j = 0; j < k; j++)
			z[1 + j] = -fit->beta[j];
		z[d - 1] = 1.0;
		cblas_dtrmv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit,
					d, R, d, z, 1);
		rss = cblas_dnrm2(d, z, 1);
		rss *= rss;
		pfree(z);
	}
	fit->rss = rss;
	fit->r2 = tss > 0 ? 1.0 - rss / tss : NAN;

	/*
	 * Standard errors: Cov(b) = sigma^2 (W^T W)^{-1} = sigma^2 W^-1 W^-T, so
	 * se_i is sigma times the norm of row i of W^-1.
	 */
	if (opts->want_stderr && !ridge && df > 0 && p > 0)
	{
		double		sigma = sqrt(rss / (double) df);
		double	   *Winv = (double *) palloc0(sizeof(double) * (Size) p * p);
		lapack_int	info;

		for (j = 0; j < p; j++)
			memcpy(Winv + (Size) j * p, W + (Size) j * d, sizeof(double) * (j + 1));
		info = LAPACKE_dtrtri_work(LAPACK_COL_MAJOR, 'U', 'N', p, Winv, p);
		if (info != 0)
			elog(ERROR, "dtrtri failed with info %d on a full-rank factor", (int) info);

		fit->se = (double *) palloc(sizeof(double) * Max(k, 1));
		for (i = 0; i < p; i++)
		{
			double		se = sigma * cblas_dnrm2(p - i, Winv + (Size) i * p + i, p);

			if (i < off)
				fit->intercept_se = se;
			else
				fit->se[i - off] = se;
		}
		pfree(Winv);
	}
	pfree(W);
}


/*
 * Triangular-pentagonal QR of [A; B] (A n x n upper triangular, B m x n
 * with its last l rows upper trapezoidal): A becomes the new triangle, B
 * is overwritten by Householder vectors we do not need.  Uses the state's
 * preallocated T and work, so a fold allocates nothing.
 */
static void
LsqTpqrt(LsqState *state, double *A, int lda, int m, int n, int l,
		 double *B, int ldb)
{
	int			nb = Min(state->nb, n);
	double	   *T = state->scratch;
	double	   *work = state->scratch + (Size) state->nb * state->d;
	lapack_int	info;

	if (m == 0 || n == 0)
		return;
	info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, m, n, l, nb, A, lda, B, ldb,
							   T, nb, work);
	if (info != 0)
		elog(ERROR, "dtpqrt failed with info %d (m %d, n %d, l %d, nb %d)",
			 (int) info, m, n, l, nb);
}

/* Fold the buffered rows into R. */
static void
LsqFoldBuffer(LsqState *state)
{
	if (state->nbuf == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	LsqTpqrt(state, state->R, state->d, state->nbuf, state->d, 0,
			 state->buf, LSQ_BLOCK_ROWS);
	state->nbuf = 0;
}

/* Column statistics read R only, so buffered rows would be missed. */
static void
LsqCheckFlushed(const LsqState *state, int col)
{
	if (col < 1 || col >= state->d)
		elog(ERROR, "least-squares column %d out of range 1..%d", col, state->d - 1);
	if (state->nbuf != 0)
		elog(ERROR, "least-squares state must be flushed before reading column statistics");
}

/*
 * Reciprocal condition number (1-norm estimate) of the factor LsqSolve
 * fits with these options; 0 when it is singular.
 */
double
LsqRcond(LsqState *state, const LsqOptions *opts)
{
	int			p = state->d - 2 + (opts->intercept ? 1 : 0);
	double	   *W;
	double		rcond = 0;
	lapack_int	info;

	if (p == 0)
		return 1.0;
	LsqFlush(state);
	W = LsqBuildFactor(state, opts);
	info = LAPACKE_dtrcon(LAPACK_COL_MAJOR, '1', 'U', 'N', p, W, state->d, &rcond);
	pfree(W);
	if (info != 0)
		return 0;
	return rcond;
}

/*
 * Solve W^T W delta = g with the factor LsqSolve fits with these options
 * (the corrected semi-normal equations of iterative refinement).  g and
 * delta have k + 1 entries, the intercept first; without an intercept
 * g[0] is ignored and delta[0] is 0.
 */
void
LsqSolveCorrection(LsqState *state, const LsqOptions *opts, const double *g,
				   double *delta)
{
	int			d = state->d;
	int			k = d - 2;
	int			off = opts->intercept ? 1 : 0;
	int			p = k + off;
	double	   *W;
	lapack_int	info;

	LsqFlush(state);
	W = LsqBuildFactor(state, opts);
	delta[0] = 0;
	memcpy(delta + 1 - off, g + 1 - off, sizeof(double) * p);
	info = LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'T', 'N', p, 1,
							   W, d, delta + 1 - off, p);
	if (info == 0)
		info = LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', p, 1,
								   W, d, delta + 1 - off, p);
	pfree(W);
	if (info != 0)
		elog(ERROR, "singular factor in least-squares refinement (info %d)", (int) info);
}

/*
 * Residual sum of squares of any coefficients on the rows in R:
 * ||A z||^2 = ||R z||^2 with z = (-b0, -b, 1).
 */
double
LsqRss(LsqState *state, double intercept, const double *beta)
{
	int			d = state->d;
	double	   *z = (double *) palloc(sizeof(double) * d);
	double		rss;

	LsqFlush(state);
	z[0] = -intercept;
	for (int j = 0; j < d - 2; j++)
		z[1 + j] = -beta[j];
	z[d - 1] = 1.0;
	cblas_dtrmv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit,
				d, state->R, d, z, 1);
	rss = cblas_dnrm2(d, z, 1);
	pfree(z);
	return rss * rss;
}

/*-------------------------------------------------------------------------
 *
 * elasticnet.c
 *	  Elastic net by cyclic coordinate descent (scikit-learn 1.2 semantics).
 *
 * Internally the objective is scaled by n, as in sklearn's coordinate
 * descent: 1/2 ||r||^2 + l1 ||w||_1 + l2/2 ||w||^2 with
 * l1 = alpha * l1_ratio * n and l2 = alpha * (1 - l1_ratio) * n, where r is
 * the residual of the centered problem.  One sweep updates every
 * coordinate in order j = 0..p-1:
 *
 *		w_j := S(xc_j . r_j, l1) / (||xc_j||^2 + l2)
 *
 * with r_j the residual without coordinate j's contribution and S the
 * soft threshold; a column with ||xc_j|| = 0 is skipped (w_j stays 0).
 *
 * Stopping, as sklearn does it: after a sweep whose largest coefficient
 * change is below tol times the largest |w_j| (or when every w_j is zero,
 * or on the last allowed sweep), compute the duality gap of the scaled
 * objective with the dual point r scaled into the feasible set; stop when
 * gap <= tol * ||yc||^2.  (sklearn tests gap < tol; the two differ only
 * when the gap equals the tolerance, in practice when both are 0, i.e. for
 * a constant target, which we call converged after one sweep rather than
 * running max_iter sweeps.)  The reported
 * dual gap is divided by n, like sklearn's dual_gap_.
 *
 * Two ways to compute the same iterates (ElasticNetSolver):
 *	  - Gram: one pass over the data builds G = Xc^T Xc, q = Xc^T yc and
 *		||yc||^2 block by block (dsyrk on centered row blocks, so no
 *		cancellation from centering afterwards), then each sweep costs
 *		O(p^2) and keeps H = G w current with one daxpy of length p per
 *		changed coordinate.  Cheap when n >> p: for 1M x 20 the pass is
 *		the whole cost (~0.1 s on one core, whether 3 or 249 sweeps
 *		follow; the residual solver takes ~6-8 s for 249 sweeps, and
 *		sklearn's default ElasticNet ~6.7 s on the same data).  Like the
 *		normal equations it loses accuracy as cond(Xc)^2 rather than
 *		cond(Xc), harmless at the tolerances used and with standardized
 *		features.
 *	  - Residual: r is kept current with one axpy of length n per changed
 *		coordinate and xc_j . r is a dot product of length n, so a sweep
 *		costs O(n p) but memory is O(n), not O(p^2).  sklearn's default
 *		(precompute=False) is this one.
 * AUTO takes Gram when n >= 2p and p <= ELASTICNET_GRAM_MAX_P.
 *
 * Centering is implicit: X is const and may be large, so the residual
 * solver applies the column means inside its loops ((x_i - m_j) r_i)
 * instead of copying X, and the Gram solver centers one row block at a
 * time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include <cblas.h>

#include "algorithms/elasticnet.h"

/*
 * Elements processed between interrupt checks in the O(n) loops: ~64K
 * multiply-adds take tens of microseconds, far below the ~10 ms budget,
 * and the check itself is a single flag test.
 */
#define ENET_CHUNK				65536

/*
 * Row blocks of the Gram pass: at most 2 MB of centered data, and at most
 * ~1e8 flops of dsyrk (a few ms) between interrupt checks when p is large.
 */
#define ENET_GRAM_BLOCK_DOUBLES	262144
#define ENET_GRAM_BLOCK_FLOPS	100000000

/* palloc's limit (MaxAllocSize) */
#define ENET_MAX_ALLOC			((Size) 0x3fffffff)

/* The problem in sklearn's n-scaled form, shared by both solvers. */
typedef struct EnetProblem
{
	const double *X;
	const double *y;
	int64		n;
	int			p;
	double	   *xmean;			/* p column means, zeros without intercept */
	double		ymean;			/* 0 without intercept */
	double		l1;				/* alpha * l1_ratio * n */
	double		l2;				/* alpha * (1 - l1_ratio) * n */
	double		d_w_tol;		/* tol, for the coefficient-change test */
	double		tol;			/* tol * ||yc||^2, for the duality gap */
	int			max_iter;
} EnetProblem;

/* Where a run of coordinate descent ended. */
typedef struct EnetResult
{
	int			n_iter;
	bool		converged;
	double		gap;			/* on the n-scaled objective */
} EnetResult;

static void EnetCheckOptions(const ElasticNetOptions *opts, int64 n, int p);
static double EnetMean(const double *x, int64 n);
static double EnetDotShifted(const double *x, double shift, const double *r, int64 n);
static void EnetAxpyShifted(double a, const double *x, double shift, double *r, int64 n);
static double EnetSumSqShifted(const double *x, double shift, int64 n);
static double EnetSoftUpdate(double z, double l1, double denom);
static bool EnetWantGap(double w_max, double d_w_max, int iter, const EnetProblem *prob);
static double EnetGap(const EnetProblem *prob, const double *w, const double *XtA,
					  double r_norm2, double r_dot_y);
static void EnetSolveGram(const EnetProblem *prob, double *w, EnetResult *res);
static void EnetSolveResidual(const EnetProblem *prob, double *w, EnetResult *res);


void
ElasticNetOptionsInit(ElasticNetOptions *opts)
{
	opts->alpha = ELASTICNET_DEFAULT_ALPHA;
	opts->l1_ratio = ELASTICNET_DEFAULT_L1_RATIO;
	opts->max_iter = ELASTICNET_DEFAULT_MAX_ITER;
	opts->tol = ELASTICNET_DEFAULT_TOL;
	opts->fit_intercept = true;
}

void
ElasticNetFitDense(const double *X, const double *y, int64 n, int p,
				   const ElasticNetOptions *opts, ElasticNetFit *fit)
{
	ElasticNetFitDenseSolver(X, y, n, p, opts, ELASTICNET_SOLVER_AUTO, fit);
}

/*
 * Fit with the given solver (see elasticnet.h).  Both solvers run the same
 * iterates and differ only in rounding; the choice is about cost.
 */
void
ElasticNetFitDenseSolver(const double *X, const double *y, int64 n, int p,
						 const ElasticNetOptions *opts, ElasticNetSolver solver,
						 ElasticNetFit *fit)
{
	EnetProblem prob;
	EnetResult	res;
	double	   *w;
	double		intercept;
	int			j;

	EnetCheckOptions(opts, n, p);

	if (solver == ELASTICNET_SOLVER_AUTO)
		solver = (n >= 2 * (int64) p && p <= ELASTICNET_GRAM_MAX_P) ?
			ELASTICNET_SOLVER_GRAM : ELASTICNET_SOLVER_RESIDUAL;

	prob.X = X;
	prob.y = y;
	prob.n = n;
	prob.p = p;
	prob.xmean = (double *) palloc0(sizeof(double) * p);
	prob.ymean = 0;
	if (opts->fit_intercept)
	{
		for (j = 0; j < p; j++)
			prob.xmean[j] = EnetMean(X + (Size) j * n, n);
		prob.ymean = EnetMean(y, n);
	}
	prob.l1 = opts->alpha * opts->l1_ratio * (double) n;
	prob.l2 = opts->alpha * (1.0 - opts->l1_ratio) * (double) n;
	prob.d_w_tol = opts->tol;
	prob.tol = opts->tol;		/* the solver multiplies in ||yc||^2 */
	prob.max_iter = opts->max_iter;

	w = (double *) palloc0(sizeof(double) * p);
	if (solver == ELASTICNET_SOLVER_GRAM)
		EnetSolveGram(&prob, w, &res);
	else
		EnetSolveResidual(&prob, w, &res);

	intercept = 0;
	if (opts->fit_intercept)
	{
		intercept = prob.ymean;
		for (j = 0; j < p; j++)
			intercept -= prob.xmean[j] * w[j];
	}
	for (j = 0; j < p; j++)
		if (!isfinite(w[j]))
			break;
	if (j < p || !isfinite(intercept))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("elastic net coefficients are not finite"),
				 errdetail("Coordinate descent overflowed after %d sweeps.", res.n_iter),
				 errhint("Standardize the features, or check them for extreme values.")));

	pfree(prob.xmean);
	fit->p = p;
	fit->coef = w;
	fit->intercept = intercept;
	fit->n_iter = res.n_iter;
	fit->converged = res.converged;
	fit->dual_gap = res.gap / (double) n;
}

/* User errors first: the options come straight from hyperparams. */
static void
EnetCheckOptions(const ElasticNetOptions *opts, int64 n, int p)
{
	if (!(opts->alpha >= 0 && isfinite(opts->alpha)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("elastic net alpha must be a finite number >= 0, got %g",
						opts->alpha),
				 errhint("alpha scales the whole penalty, as in scikit-learn (default 1.0); "
						 "0 is unpenalized least squares.")));
	if (!(opts->l1_ratio >= 0 && opts->l1_ratio <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("elastic net l1_ratio must be between 0 and 1, got %g",
						opts->l1_ratio),
				 errhint("l1_ratio is the L1 share of the penalty (default 0.5): "
						 "1 is the lasso, 0 a pure L2 (ridge) penalty.")));
	if (opts->max_iter < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("elastic net max_iter must be at least 1, got %d",
						opts->max_iter),
				 errhint("max_iter counts sweeps over all coefficients (default 1000).")));
	if (!(opts->tol >= 0 && isfinite(opts->tol)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("elastic net tol must be a finite number >= 0, got %g",
						opts->tol),
				 errhint("tol is the relative duality-gap tolerance (default 1e-4).")));
	if (n < 1 || p < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("elastic net needs at least one row and one feature, got %lld rows and %d features",
						(long long) n, p),
				 errhint("Check that the training source is not empty.")));
}

/*
 * Column mean with one correction pass: the naive sum's rounding error
 * moves the intercept to first order, and the second pass removes it.
 */
static double
EnetMean(const double *x, int64 n)
{
	double		mean = 0;
	double		corr = 0;
	int64		start;

	for (start = 0; start < n; start += ENET_CHUNK)
	{
		int64		end = Min(n, start + ENET_CHUNK);
		double		s0 = 0,
					s1 = 0;
		int64		i;

		CHECK_FOR_INTERRUPTS();
		for (i = start; i + 1 < end; i += 2)
		{
			s0 += x[i];
			s1 += x[i + 1];
		}
		if (i < end)
			s0 += x[i];
		mean += s0 + s1;
	}
	mean /= (double) n;
	for (start = 0; start < n; start += ENET_CHUNK)
	{
		int64		end = Min(n, start + ENET_CHUNK);
		int64		i;

		CHECK_FOR_INTERRUPTS();
		for (i = start; i < end; i++)
			corr += x[i] - mean;
	}
	return mean + corr / (double) n;
}

/*
 * sum_i (x_i - shift) r_i, in chunks with an interrupt check between them.
 * Without a shift (no intercept) it is BLAS's ddot.
 */
static double
EnetDotShifted(const double *x, double shift, const double *r, int64 n)
{
	double		total = 0;
	int64		start;

	for (start = 0; start < n; start += ENET_CHUNK)
	{
		int			len = (int) Min(n - start, ENET_CHUNK);
		const double *xs = x + start;
		const double *rs = r + start;

		CHECK_FOR_INTERRUPTS();
		if (shift == 0)
			total += cblas_ddot(len, xs, 1, rs, 1);
		else
		{
			double		s0 = 0,
						s1 = 0,
						s2 = 0,
						s3 = 0;
			int			i;

			/* four accumulators break the add-latency chain */
			for (i = 0; i + 3 < len; i += 4)
			{
				s0 += (xs[i] - shift) * rs[i];
				s1 += (xs[i + 1] - shift) * rs[i + 1];
				s2 += (xs[i + 2] - shift) * rs[i + 2];
				s3 += (xs[i + 3] - shift) * rs[i + 3];
			}
			for (; i < len; i++)
				s0 += (xs[i] - shift) * rs[i];
			total += (s0 + s1) + (s2 + s3);
		}
	}
	return total;
}

/* r_i += a (x_i - shift); BLAS's daxpy without a shift. */
static void
EnetAxpyShifted(double a, const double *x, double shift, double *r, int64 n)
{
	int64		start;

	for (start = 0; start < n; start += ENET_CHUNK)
	{
		int			len = (int) Min(n - start, ENET_CHUNK);
		const double *xs = x + start;
		double	   *rs = r + start;

		CHECK_FOR_INTERRUPTS();
		if (shift == 0)
			cblas_daxpy(len, a, xs, 1, rs, 1);
		else
		{
			double		b = -a * shift;
			int			i;

			for (i = 0; i < len; i++)
				rs[i] += a * xs[i] + b;
		}
	}
}

/* sum_i (x_i - shift)^2: the squared norm of a centered column */
static double
EnetSumSqShifted(const double *x, double shift, int64 n)
{
	double		total = 0;
	int64		start;

	for (start = 0; start < n; start += ENET_CHUNK)
	{
		int64		end = Min(n, start + ENET_CHUNK);
		double		s0 = 0,
					s1 = 0;
		int64		i;

		CHECK_FOR_INTERRUPTS();
		for (i = start; i + 1 < end; i += 2)
		{
			double		d0 = x[i] - shift;
			double		d1 = x[i + 1] - shift;

			s0 += d0 * d0;
			s1 += d1 * d1;
		}
		if (i < end)
			s0 += (x[i] - shift) * (x[i] - shift);
		total += s0 + s1;
	}
	return total;
}

/* The coordinate minimizer: soft-threshold z at l1, shrink by denom. */
static inline double
EnetSoftUpdate(double z, double l1, double denom)
{
	double		mag = fabs(z) - l1;

	if (mag <= 0)
		return 0.0;
	return (z > 0 ? mag : -mag) / denom;
}

/*
 * sklearn's trigger for the (costly) duality-gap test: the sweep moved no
 * coefficient by more than d_w_tol relative to the largest one, or all are
 * zero, or this was the last sweep allowed.
 */
static inline bool
EnetWantGap(double w_max, double d_w_max, int iter, const EnetProblem *prob)
{
	return w_max == 0.0 || d_w_max / w_max < prob->d_w_tol ||
		iter == prob->max_iter - 1;
}

/*
 * Duality gap of the n-scaled objective at w, given XtA = Xc^T r - l2 w,
 * ||r||^2 and r . yc.  The dual point is r scaled by
 * min(1, l1 / ||XtA||_inf) into the dual feasible set.
 */
static double
EnetGap(const EnetProblem *prob, const double *w, const double *XtA,
		double r_norm2, double r_dot_y)
{
	int			p = prob->p;
	double		dual_norm = 0;
	double		w_norm2 = 0;
	double		l1_norm = 0;
	double		cst;
	double		gap;
	int			j;

	for (j = 0; j < p; j++)
	{
		dual_norm = Max(dual_norm, fabs(XtA[j]));
		w_norm2 += w[j] * w[j];
		l1_norm += fabs(w[j]);
	}
	if (dual_norm > prob->l1)
	{
		cst = prob->l1 / dual_norm;
		gap = 0.5 * (r_norm2 + r_norm2 * cst * cst);
	}
	else
	{
		cst = 1.0;
		gap = r_norm2;
	}
	gap += prob->l1 * l1_norm - cst * r_dot_y +
		0.5 * prob->l2 * (1.0 + cst * cst) * w_norm2;
	return gap;
}

/*
 * Coordinate descent on the Gram matrix G = Xc^T Xc (full, column-major),
 * q = Xc^T yc, keeping H = G w.  Coordinate j sees
 * xc_j . r_j = q_j - (H_j - G_jj w_j).
 */
static void
EnetSolveGram(const EnetProblem *prob, double *w, EnetResult *res)
{
	int64		n = prob->n;
	int			p = prob->p;
	int			bs;
	double	   *G;
	double	   *q;
	double	   *H;
	double	   *XtA;
	double	   *blk;
	double	   *yblk;
	double		y_norm2 = 0;
	double		tol;
	int64		r0;
	int			iter;
	int			i,
				j;

	if ((Size) p * p > ENET_MAX_ALLOC / sizeof(double))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("elastic net Gram matrix for %d features exceeds 1 GB", p),
				 errhint("Use the residual solver for this many features.")));

	G = (double *) palloc0(sizeof(double) * (Size) p * p);
	q = (double *) palloc0(sizeof(double) * p);
	H = (double *) palloc0(sizeof(double) * p);
	XtA = (double *) palloc(sizeof(double) * p);
	bs = Min(ENET_GRAM_BLOCK_DOUBLES / p,
			 Max(16, ENET_GRAM_BLOCK_FLOPS / ((int64) p * p)));
	bs = (int) Min(n, Max(1, bs));
	blk = (double *) palloc(sizeof(double) * (Size) bs * p);
	yblk = (double *) palloc(sizeof(double) * bs);

	/* one pass: centered row blocks into G (upper triangle), q, ||yc||^2 */
	for (r0 = 0; r0 < n; r0 += bs)
	{
		int			m = (int) Min(n - r0, bs);

		CHECK_FOR_INTERRUPTS();
		for (j = 0; j < p; j++)
		{
			const double *src = prob->X + (Size) j * n + r0;
			double	   *dst = blk + (Size) j * m;
			double		mj = prob->xmean[j];

			for (i = 0; i < m; i++)
				dst[i] = src[i] - mj;
		}
		for (i = 0; i < m; i++)
			yblk[i] = prob->y[r0 + i] - prob->ymean;
		cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, p, m,
					1.0, blk, m, 1.0, G, p);
		cblas_dgemv(CblasColMajor, CblasTrans, m, p, 1.0, blk, m, yblk, 1,
					1.0, q, 1);
		y_norm2 += cblas_ddot(m, yblk, 1, yblk, 1);
	}
	pfree(blk);
	pfree(yblk);
	for (j = 0; j < p; j++)
		for (i = j + 1; i < p; i++)
			G[(Size) j * p + i] = G[(Size) i * p + j];

	tol = prob->tol * y_norm2;
	res->converged = false;
	res->gap = 0;
	for (iter = 0; iter < prob->max_iter; iter++)
	{
		double		w_max = 0;
		double		d_w_max = 0;

		for (j = 0; j < p; j++)
		{
			const double *Gj = G + (Size) j * p;
			double		gjj = Gj[j];
			double		w_old = w[j];
			double		w_new;

			/* 64 coordinates cost at most 128 p flops */
			if ((j & 63) == 0)
				CHECK_FOR_INTERRUPTS();
			if (gjj == 0.0)
				continue;
			w_new = EnetSoftUpdate(q[j] - H[j] + gjj * w_old, prob->l1, gjj + prob->l2);
			if (w_new != w_old)
			{
				cblas_daxpy(p, w_new - w_old, Gj, 1, H, 1);
				w[j] = w_new;
			}
			d_w_max = Max(d_w_max, fabs(w_new - w_old));
			w_max = Max(w_max, fabs(w_new));
		}

		if (EnetWantGap(w_max, d_w_max, iter, prob))
		{
			double		q_dot_w = cblas_ddot(p, q, 1, w, 1);
			double		w_dot_h = cblas_ddot(p, w, 1, H, 1);

			for (j = 0; j < p; j++)
				XtA[j] = q[j] - H[j] - prob->l2 * w[j];
			/* ||r||^2 = ||yc||^2 - 2 q.w + w.G w and r.yc = ||yc||^2 - q.w */
			res->gap = EnetGap(prob, w, XtA, y_norm2 + w_dot_h - 2.0 * q_dot_w,
							   y_norm2 - q_dot_w);
			if (res->gap <= tol)
			{
				res->converged = true;
				break;
			}
		}
	}
	res->n_iter = Min(iter + 1, prob->max_iter);

	pfree(G);
	pfree(q);
	pfree(H);
	pfree(XtA);
}

/*
 * Coordinate descent on the residual r = yc - Xc w, kept current: with
 * z = xc_j . r + ||xc_j||^2 w_j (the fit without coordinate j), one axpy
 * moves r by the change of w_j.
 */
static void
EnetSolveResidual(const EnetProblem *prob, double *w, EnetResult *res)
{
	int64		n = prob->n;
	int			p = prob->p;
	const double *X = prob->X;
	double	   *R;
	double	   *norm2;
	double	   *XtA;
	double		y_norm2;
	double		tol;
	int64		i;
	int			iter;
	int			j;

	if ((Size) n > ENET_MAX_ALLOC / sizeof(double))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("elastic net residual vector for %lld rows exceeds 1 GB",
						(long long) n),
				 errhint("Use the Gram solver, or train on a sample.")));

	R = (double *) palloc(sizeof(double) * (Size) n);
	norm2 = (double *) palloc(sizeof(double) * p);
	XtA = (double *) palloc(sizeof(double) * p);

	for (i = 0; i < n; i++)
	{
		if ((i & (ENET_CHUNK - 1)) == 0)
			CHECK_FOR_INTERRUPTS();
		R[i] = prob->y[i] - prob->ymean;
	}
	y_norm2 = EnetDotShifted(R, 0, R, n);
	for (j = 0; j < p; j++)
	{
		const double *xj = X + (Size) j * n;

		norm2[j] = EnetSumSqShifted(xj, prob->xmean[j], n);
	}

	tol = prob->tol * y_norm2;
	res->converged = false;
	res->gap = 0;
	for (iter = 0; iter < prob->max_iter; iter++)
	{
		double		w_max = 0;
		double		d_w_max = 0;

		for (j = 0; j < p; j++)
		{
			const double *xj = X + (Size) j * n;
			double		mj = prob->xmean[j];
			double		w_old = w[j];
			double		w_new;

			CHECK_FOR_INTERRUPTS();
			if (norm2[j] == 0.0)
				continue;
			w_new = EnetSoftUpdate(EnetDotShifted(xj, mj, R, n) + norm2[j] * w_old,
								   prob->l1, norm2[j] + prob->l2);
			if (w_new != w_old)
			{
				EnetAxpyShifted(w_old - w_new, xj, mj, R, n);
				w[j] = w_new;
			}
			d_w_max = Max(d_w_max, fabs(w_new - w_old));
			w_max = Max(w_max, fabs(w_new));
		}

		if (EnetWantGap(w_max, d_w_max, iter, prob))
		{
			for (j = 0; j < p; j++)
				XtA[j] = EnetDotShifted(X + (Size) j * n, prob->xmean[j], R, n) -
					prob->l2 * w[j];
			res->gap = EnetGap(prob, w, XtA, EnetDotShifted(R, 0, R, n),
							   EnetDotShifted(prob->y, prob->ymean, R, n));
			if (res->gap <= tol)
			{
				res->converged = true;
				break;
			}
		}
	}
	res->n_iter = Min(iter + 1, prob->max_iter);

	pfree(R);
	pfree(norm2);
	pfree(XtA);
}

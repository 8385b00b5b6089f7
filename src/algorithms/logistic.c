/*-------------------------------------------------------------------------
 *
 * logistic.c
 *	  L2-penalized logistic regression (binary and multinomial) by L-BFGS.
 *
 * The objective and the stopping rules are scikit-learn 1.2's (see
 * logistic.h); the optimizer follows L-BFGS-B 3.0 as scipy runs it for an
 * unconstrained problem: memory m = 10, H0 = (s'y / y'y) I from the
 * newest pair, pairs with s'y <= eps * (-step * g'd) skipped, the More-
 * Thuente line search (ftol 1e-3, gtol 0.9, xtol 0.1, at most 20
 * evaluations) starting from step 1, or 1/||d|| on a steepest-descent
 * direction, and on a failed line search one restart from steepest
 * descent.  Following the same path as sklearn keeps the iteration counts,
 * and where the relative-decrease rule stops early the coefficients,
 * close to sklearn's.
 *
 * Cost.  Only two things read X: the product [Z | U] = X [Theta | D] at
 * the first trial point of each line search (Z the linear predictor, U the
 * image of the search direction D), and the gradient X^T R (R the
 * residuals, probabilities minus one-hot labels).  Both run over the same
 * block of rows, one after the other, while the block is in cache, so an
 * iteration whose first trial is accepted -- the common case -- reads X
 * from memory once.  Further trials along D need no X at all: Z + t U
 * gives every row's predictor, and the directional derivative is
 * sum_i R_i . U_i; only the accepted step then needs one more pass for its
 * gradient.  Z and U are kept per block, column-major (block rows x 2K),
 * so that no allocation grows with n beyond a block.
 *
 * Loss per row, with z the linear predictor:
 *	  binary		log(1 + e^z) - y z = log1p(e^-|z|) + max(z, 0) - y z
 *	  multinomial	logsumexp(z) - z_y, with the max subtracted first
 * both without overflow for any finite z, and the binary one accurate to
 * the last digits even where every row's loss is tiny (see
 * LOGISTIC_SMALL_E).  While the CPU works on a block's exp and log, the
 * next block of X is prefetched, so the memory traffic overlaps the
 * arithmetic.
 *
 * Threads.  On a large input each pass over the rows runs in two threads,
 * the backend's and a helper (LogisticRunPass), which take segments of
 * consecutive blocks from either end.  Each segment sums its blocks' loss,
 * directional derivative and gradient in block order into its own slot,
 * and the slots are added in segment order (LogisticSum), so the results
 * are bit-identical whatever the number of threads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "miscadmin.h"

#include <cblas.h>

#include "algorithms/logistic.h"
#include "algorithms/logistic_kernel.h"

/* L-BFGS memory (scipy's default maxcor) */
#define LOGISTIC_MEMORY			10

/* scipy's default ftol for L-BFGS-B: factr 1e7 times machine epsilon */
#define LOGISTIC_FTOL			2.2204460492503131e-09

/* line search: L-BFGS-B's constants */
#define LS_FTOL					1e-3
#define LS_GTOL					0.9
#define LS_XTOL					0.1
#define LS_STPMAX				1e10
#define LS_MAX_EVALS			20

/*
 * Rows per block: the block of X (rows x p doubles) must stay in cache
 * between the forward product and the gradient product, and the next one
 * is prefetched meanwhile.  Measured on 1M x 20 (one core, AMD EPYC,
 * 12 iterations): 64 KB and 128 KB blocks 0.31 s, 256 KB 0.32 s, 512 KB
 * and 1 MB 0.33-0.34 s, 32 KB 0.32 s (BLAS call overhead).
 */
#define LOGISTIC_BLOCK_BYTES	(128 * 1024)
#define LOGISTIC_MIN_BLOCK_ROWS	64
#define LOGISTIC_MAX_BLOCK_ROWS	8192


/*
 * Blocks are summed in segments of consecutive blocks: a thread takes a
 * whole segment and adds its blocks' loss and gradient in block order
 * into the segment's own sums, which are then added in segment order.  The
 * segments depend on the data's shape only, so the sums are the same for
 * any number of threads.  A segment is at least this many blocks, and at
 * least P + 2 rows, so the segments' sums never take more memory than one
 * double a row.
 */
#define LOGISTIC_SEGMENT_BLOCKS	8

/*
 * The passes over the rows run in threads (LogisticRunPass) from this
 * many rows up; below, a thread's start costs more than it saves.  At
 * most LOGISTIC_MAX_THREADS: the backend's own and one helper.
 */
#define LOGISTIC_THREAD_MIN_ROWS	65536
#define LOGISTIC_MAX_THREADS	2

/* per thread: a block's residuals, and Z + t U of a trial step */
typedef struct LogisticScratch
{
	double	   *r;				/* block_rows x K */
	double	   *zt;				/* block_rows x K */
} LogisticScratch;

typedef struct LogisticProblem
{
	const double *X;			/* n x p, column-major, leading dimension n */
	int64		n;
	int			p;
	const int  *y;
	int			nclasses;
	int			K;				/* coefficient sets: 1 if binary */
	bool		fit_intercept;
	double		lambda;			/* 1 / C */
	int			P;				/* parameters: K * p (+ K) */
	int			block_rows;
	int64		nblocks;
	int64		seg_blocks;		/* blocks per segment */
	int64		nsegs;
	int			threads;		/* for the passes, at most LOGISTIC_MAX_THREADS */
	double	  **zu;				/* per block: rows x 2K, column-major; Z in
								 * columns 0..K-1, U in K..2K-1 */
	double	   *sums;			/* per segment: P gradient sums, loss, dphi */
	double	   *th;				/* p x 2K: [Theta | D] for the forward product */
	LogisticScratch scratch[LOGISTIC_MAX_THREADS];
} LogisticProblem;

/*
 * One pass over the blocks of rows, as LogisticForward or LogisticAlong
 * asks for it, shared by the threads that run it.  The segments not yet
 * taken are always the range [lo, end): the backend's thread takes them
 * from the front, the helper from the back, so each reads X in order and
 * can prefetch its next block.
 */
typedef struct LogisticPass
{
	LogisticProblem *prob;
	bool		forward;		/* [Z | U] = X_b [Theta | D] first */
	int			ncols;			/* columns of that product: K, or 2K */
	const double *b0;			/* intercepts of Theta (forward) */
	const double *db;			/* intercepts of D (forward with D) */
	double		t;				/* the trial point Z + t U */
	bool		has_u;			/* sum r . u too */
	bool		commit;			/* move Z to Z + t U */
	bool		want_grad;		/* X_b^T R_b too */
	uint64		todo;			/* lo << 32 | end, changed atomically */
	bool		stop;			/* the backend has an interrupt to serve */
} LogisticPass;

/* The More-Thuente line search state (MINPACK-2's dcsrch). */
typedef struct LineSearch
{
	bool		brackt;
	int			stage;
	double		finit;
	double		ginit;
	double		gtest;
	double		width;
	double		width1;
	double		stx;
	double		fx;
	double		gx;
	double		sty;
	double		fy;
	double		gy;
	double		stmin;
	double		stmax;
} LineSearch;

typedef enum LineSearchTask
{
	LS_EVALUATE,				/* evaluate at the new step and call again */
	LS_CONVERGED,				/* both Wolfe conditions hold */
	LS_WARNING					/* no more progress possible: accept */
} LineSearchTask;

static void LogisticCheckOptions(const LogisticOptions *opts);
static void LogisticCheckClasses(const int *y, int64 n, int nclasses);
static void LogisticProblemInit(LogisticProblem *prob, const double *X, int64 n,
								int p, const int *y, int nclasses,
								const LogisticOptions *opts);
static void LogisticProblemFree(LogisticProblem *prob);
static int	LogisticUsableThreads(int asked);
static double LogisticForward(LogisticProblem *prob, const double *theta,
							  const double *dir, double *grad, double *dphi);
static double LogisticAlong(LogisticProblem *prob, double t, bool commit,
							double *grad, double *dphi);
static void LogisticRunPass(LogisticPass *pass);
static void LogisticWorkSegments(LogisticPass *pass, int slot);
static void *LogisticHelperThread(void *arg);
static double LogisticSum(const LogisticProblem *prob, double *grad, double *dphi);
static void LogisticBlockLoss(const LogisticProblem *prob, double *zu, int rows,
							  const int *y, double t, bool has_u, bool commit,
							  const double *next, int next_rows,
							  LogisticScratch *sc, double *loss, double *dphi);
static void LogisticBlockGradient(const LogisticProblem *prob, const double *Xb,
								  int rows, const double *r, double *grad);
static void LogisticAddPenalty(const LogisticProblem *prob, const double *theta,
							   const double *dir, double *f, double *grad,
							   double *dphi);
static double LogisticMaxAbs(const double *v, int n);
static void LogisticDirection(int P, const double *g, int nmem, int newest,
							  const double *S, const double *Yv, const double *rho,
							  double gamma, double *a, double *d);
static void LogisticDecision(const LogisticModel *model, const double *x, double *z);
static void LogisticProbaFromDecision(int nclasses, const double *z, double *proba);
static void LineSearchStart(LineSearch *ls, double f, double g, double stp);
static LineSearchTask LineSearchNext(LineSearch *ls, double f, double g, double *stp);
static void LineSearchStep(double *stx, double *fx, double *dx, double *sty,
						   double *fy, double *dy, double *stp, double fp,
						   double dp, bool *brackt, double stpmin, double stpmax);


void
LogisticDefaultOptions(LogisticOptions *opts)
{
	opts->C = LOGISTIC_DEFAULT_C;
	opts->fit_intercept = true;
	opts->max_iter = LOGISTIC_DEFAULT_MAX_ITER;
	opts->tol = LOGISTIC_DEFAULT_TOL;
	opts->threads = LOGISTIC_DEFAULT_THREADS;
}

/*
 * The threads the passes may use: as asked, at most the online processors
 * and LOGISTIC_MAX_THREADS, at least one.
 */
static int
LogisticUsableThreads(int asked)
{
	long		online = sysconf(_SC_NPROCESSORS_ONLN);

	if (online > 0 && asked > online)
		asked = (int) online;
	asked = Min(asked, LOGISTIC_MAX_THREADS);
	return Max(asked, 1);
}

/* The option checks are sklearn's parameter constraints. */
static void
LogisticCheckOptions(const LogisticOptions *opts)
{
	if (!(opts->C > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("logistic regression C must be a positive number, got %g", opts->C),
				 errhint("C is the inverse of the penalty strength, as in scikit-learn: smaller values regularize more.")));
	if (opts->max_iter < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("logistic regression max_iter must not be negative, got %d",
						opts->max_iter)));
	if (!(opts->tol >= 0 && isfinite(opts->tol)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("logistic regression tol must be a finite non-negative number, got %g",
						opts->tol)));
}

/*
 * Every label must be a class number and every class must occur: a class
 * without rows has no finite maximum-likelihood intercept, and sklearn
 * would not know the class at all.
 */
static void
LogisticCheckClasses(const int *y, int64 n, int nclasses)
{
	int64	   *count = (int64 *) palloc0(sizeof(int64) * nclasses);
	int			present = 0;
	int			k;
	int64		i;

	for (i = 0; i < n; i++)
	{
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (unlikely(y[i] < 0 || y[i] >= nclasses))
			elog(ERROR, "class %d of row %lld is outside 0..%d",
				 y[i], (long long) i, nclasses - 1);
		count[y[i]]++;
	}
	for (k = 0; k < nclasses; k++)
		if (count[k] > 0)
			present++;
	if (present < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a classifier needs at least two classes"),
				 errdetail("All %lld training rows have the same class.", (long long) n),
				 errhint("Check the target column and the filter of the training rows.")));
	for (k = 0; k < nclasses; k++)
		if (count[k] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("class %d of %d has no training rows", k, nclasses),
					 errhint("Number the classes 0..K-1 over the classes present in the training rows.")));
	pfree(count);
}

/* Validate the problem and allocate the per-block buffers. */
static void
LogisticProblemInit(LogisticProblem *prob, const double *X, int64 n, int p,
					const int *y, int nclasses, const LogisticOptions *opts)
{
	int64		b;
	int			t;

	/* in this thread, before any helper runs the kernel */
	LogisticKernelInit();
	if (nclasses < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a classifier needs at least two classes"),
				 errdetail("The target has %d distinct value%s in the training rows.",
						   nclasses, nclasses == 1 ? "" : "s"),
				 errhint("Check the target column and the filter of the training rows.")));
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit logistic regression to zero rows")));
	if (p < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("logistic regression needs at least one feature")));
	/* P and the p x 2K buffer must stay far from int overflow */
	if ((int64) p * (nclasses + 1) * 2 > (int64) 100000000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("logistic regression with %d features and %d classes is too large",
						p, nclasses),
				 errhint("Select fewer features, or drop categorical columns with many distinct values.")));
	LogisticCheckOptions(opts);

	memset(prob, 0, sizeof(LogisticProblem));
	prob->X = X;
	prob->n = n;
	prob->p = p;
	prob->y = y;
	prob->nclasses = nclasses;
	prob->K = nclasses == 2 ? 1 : nclasses;
	prob->fit_intercept = opts->fit_intercept;
	prob->lambda = 1.0 / opts->C;	/* 0 for C = +Infinity */
	prob->P = prob->K * p + (opts->fit_intercept ? prob->K : 0);

	prob->block_rows = LOGISTIC_BLOCK_BYTES / (int) sizeof(double) / p;
	prob->block_rows = Max(prob->block_rows, LOGISTIC_MIN_BLOCK_ROWS);
	prob->block_rows = Min(prob->block_rows, LOGISTIC_MAX_BLOCK_ROWS);
	if (prob->block_rows > n)
		prob->block_rows = (int) n;
	prob->nblocks = (n + prob->block_rows - 1) / prob->block_rows;
	prob->seg_blocks = Max((int64) LOGISTIC_SEGMENT_BLOCKS,
						   ((int64) prob->P + 2 + prob->block_rows - 1) / prob->block_rows);
	prob->nsegs = (prob->nblocks + prob->seg_blocks - 1) / prob->seg_blocks;
	prob->threads = n >= LOGISTIC_THREAD_MIN_ROWS ?
		LogisticUsableThreads(opts->threads) : 1;

	prob->zu = (double **) palloc(sizeof(double *) * prob->nblocks);
	for (b = 0; b < prob->nblocks; b++)
	{
		int			rows = (int) Min((int64) prob->block_rows, n - b * prob->block_rows);

		prob->zu[b] = (double *) palloc0(sizeof(double) * rows * 2 * prob->K);
	}
	prob->sums = (double *) palloc_extended(sizeof(double) * prob->nsegs * (prob->P + 2),
											MCXT_ALLOC_HUGE);
	for (t = 0; t < prob->threads; t++)
	{
		prob->scratch[t].r = (double *) palloc(sizeof(double) * prob->block_rows * prob->K);
		prob->scratch[t].zt = (double *) palloc(sizeof(double) * prob->block_rows * prob->K);
	}
	prob->th = (double *) palloc(sizeof(double) * p * 2 * prob->K);
}

static void
LogisticProblemFree(LogisticProblem *prob)
{
	int64		b;

	int			t;

	for (b = 0; b < prob->nblocks; b++)
		pfree(prob->zu[b]);
	pfree(prob->zu);
	pfree(prob->sums);
	for (t = 0; t < prob->threads; t++)
	{
		pfree(prob->scratch[t].r);
		pfree(prob->scratch[t].zt);
	}
	pfree(prob->th);
}

/*
 * Prefetch rows [from, to) of every column of the next block of X (at
 * next, leading dimension ld), one cache line per 8 rows.  Called every
 * few rows of the current block, it keeps the memory system busy while
 * the CPU computes exp and log.
 */
static inline void
LogisticPrefetch(const double *next, int64 ld, int p, int from, int to)
{
#if defined(__GNUC__)
	int			i;
	int			j;

	for (j = 0; j < p; j++)
	{
		const double *col = next + j * ld;

		for (i = from; i < to; i += 8)
			__builtin_prefetch(col + i, 0, 3);
	}
#endif
}

/*
 * Loss and residuals of one block of rows at Z + t U (t = 0: at Z).
 * sc->r receives rows x K residuals (probability minus one-hot label);
 * the block's loss is added to *loss and, when has_u, sum_i r_i . u_i to
 * *dphi.  With commit, Z itself is moved to Z + t U; otherwise the shifted
 * predictor goes to the scratch sc->zt.  Runs in any thread: no palloc,
 * no ereport, no interrupt check.
 *
 * This is the only per-row code of the fit, so it is written for the
 * compiler: no calls but exp/log1p/log, and the binary case branch-free.
 * The exp and log calls leave the memory system idle, so meanwhile the
 * next block of X (next, next_rows rows; NULL for none) is prefetched: the
 * product that reads it then finds it in cache.
 */
static void
LogisticBlockLoss(const LogisticProblem *prob, double *zu, int rows,
				  const int *y, double t, bool has_u, bool commit,
				  const double *next, int next_rows,
				  LogisticScratch *sc, double *loss, double *dphi)
{
	int			K = prob->K;
	double	   *r = sc->r;
	const double *z = zu;
	double		l = 0;
	double		dp = 0;
	int			c0;
	int			i;
	int			k;

	if (t != 0)
	{
		double	   *dst = commit ? zu : sc->zt;

		for (k = 0; k < K; k++)
		{
			const double *zk = zu + (Size) k * rows;
			const double *uk = zu + (Size) (K + k) * rows;
			double	   *dk = dst + (Size) k * rows;

			for (i = 0; i < rows; i++)
				dk[i] = zk[i] + t * uk[i];
		}
		z = dst;
	}

	for (c0 = 0; c0 < rows; c0 += LOGISTIC_CHUNK_ROWS)
	{
		int			c1 = Min(c0 + LOGISTIC_CHUNK_ROWS, rows);

		if (K == 1)
		{
			double		prod;
			double		sum;

			LogisticBinaryChunk(z + c0, y + c0, r + c0, c1 - c0, &sum, &prod);
			l += sum + log(prod);
		}
		else
		{
			for (i = c0; i < c1; i++)
			{
				double		m = z[i];
				double		s = 0;
				double		inv;
				int			yi = y[i];

				for (k = 1; k < K; k++)
					m = Max(m, z[(Size) k * rows + i]);
				for (k = 0; k < K; k++)
				{
					double		e = exp(z[(Size) k * rows + i] - m);

					r[(Size) k * rows + i] = e;
					s += e;
				}
				l += (m - z[(Size) yi * rows + i]) + log(s);
				inv = 1.0 / s;
				for (k = 0; k < K; k++)
					r[(Size) k * rows + i] *= inv;
				r[(Size) yi * rows + i] -= 1.0;
			}
		}
		if (next != NULL && c0 < next_rows)
			LogisticPrefetch(next, prob->n, prob->p, c0, Min(c1, next_rows));
	}

	if (has_u)
	{
		for (k = 0; k < K; k++)
		{
			const double *rk = r + (Size) k * rows;
			const double *uk = zu + (Size) (K + k) * rows;

			for (i = 0; i < rows; i++)
				dp += rk[i] * uk[i];
		}
	}
	*loss += l;
	*dphi += dp;
}

/*
 * f at theta, its gradient and its derivative along dir, in one pass over
 * X: for each block, [Z | U] = X_b [Theta | D] (just Z when dir is NULL),
 * the residuals, and X_b^T R while the block is still in cache.  Leaves Z
 * (and U) of every block for LogisticAlong.  grad may be NULL; dphi is
 * only set when dir is given.  The penalty is included.
 */
static double
LogisticForward(LogisticProblem *prob, const double *theta, const double *dir,
				double *grad, double *dphi)
{
	int			K = prob->K;
	int			p = prob->p;
	LogisticPass pass;
	double		dp;
	double		f;

	memcpy(prob->th, theta, sizeof(double) * K * p);
	if (dir != NULL)
		memcpy(prob->th + (Size) K * p, dir, sizeof(double) * K * p);

	memset(&pass, 0, sizeof(pass));
	pass.prob = prob;
	pass.forward = true;
	pass.ncols = dir != NULL ? 2 * K : K;
	pass.b0 = theta + (Size) K * p;
	pass.db = dir != NULL ? dir + (Size) K * p : NULL;
	pass.has_u = dir != NULL;
	pass.want_grad = grad != NULL;
	LogisticRunPass(&pass);

	f = LogisticSum(prob, grad, &dp);
	if (dphi != NULL)
		*dphi = dp;
	LogisticAddPenalty(prob, theta, dir, &f, grad, dphi);
	return f;
}

/*
 * f (without the penalty) and its derivative along the direction at
 * Z + t U, from the Z and U that LogisticForward left: no reading of X
 * unless the gradient is wanted.  With commit, Z moves to Z + t U.
 */
static double
LogisticAlong(LogisticProblem *prob, double t, bool commit, double *grad,
			  double *dphi)
{
	LogisticPass pass;

	memset(&pass, 0, sizeof(pass));
	pass.prob = prob;
	pass.t = t;
	pass.has_u = true;
	pass.commit = commit;
	pass.want_grad = grad != NULL;
	LogisticRunPass(&pass);
	return LogisticSum(prob, grad, dphi);
}

/*
 * One block's share of a pass: the forward product when asked, the loss
 * and residuals, the gradient; added into the segment's sums (seg).  The
 * next block of X (next_b, or -1) is prefetched meanwhile when X is read.
 * Runs in any thread.
 */
static void
LogisticBlockWork(const LogisticPass *pass, LogisticScratch *sc, int64 b,
				  int64 next_b, double *seg)
{
	const LogisticProblem *prob = pass->prob;
	int			K = prob->K;
	int			P = prob->P;
	int64		r0 = b * prob->block_rows;
	int			rows = (int) Min((int64) prob->block_rows, prob->n - r0);
	const double *Xb = prob->X + r0;
	double	   *zu = prob->zu[b];
	const double *next = NULL;
	int			next_rows = 0;
	int			i;
	int			k;

	if ((pass->forward || pass->want_grad) && next_b >= 0 && next_b < prob->nblocks)
	{
		next = prob->X + next_b * prob->block_rows;
		next_rows = (int) Min((int64) prob->block_rows, prob->n - next_b * prob->block_rows);
	}
	if (pass->forward)
	{
		cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, rows, pass->ncols,
					prob->p, 1.0, Xb, (int) prob->n, prob->th, prob->p, 0.0, zu, rows);
		if (prob->fit_intercept)
		{
			for (k = 0; k < pass->ncols; k++)
			{
				double		c = k < K ? pass->b0[k] : pass->db[k - K];
				double	   *col = zu + (Size) k * rows;

				if (c != 0)
					for (i = 0; i < rows; i++)
						col[i] += c;
			}
		}
	}
	LogisticBlockLoss(prob, zu, rows, prob->y + r0, pass->t, pass->has_u,
					  pass->commit, next, next_rows, sc, &seg[P], &seg[P + 1]);
	if (pass->want_grad)
		LogisticBlockGradient(prob, Xb, rows, sc->r, seg);
}

/*
 * Take the next segment: from the front (slot 0) or from the back; -1
 * when none is left.
 */
static int64
LogisticTakeSegment(LogisticPass *pass, int slot)
{
	uint64		cur = __atomic_load_n(&pass->todo, __ATOMIC_RELAXED);

	for (;;)
	{
		uint64		lo = cur >> 32;
		uint64		end = cur & UINT64CONST(0xffffffff);
		uint64		next;

		if (lo >= end)
			return -1;
		next = slot == 0 ? ((lo + 1) << 32) | end : (lo << 32) | (end - 1);
		if (__atomic_compare_exchange_n(&pass->todo, &cur, next, false,
										__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return slot == 0 ? (int64) lo : (int64) end - 1;
	}
}

/*
 * The segments one thread takes, until none is left or the backend has
 * an interrupt to serve: the backend's thread (slot 0) then raises stop,
 * and both return; LogisticRunPass serves the interrupt and goes on.
 * Pure arithmetic on memory allocated beforehand.
 */
static void
LogisticWorkSegments(LogisticPass *pass, int slot)
{
	LogisticProblem *prob = pass->prob;
	LogisticScratch *sc = &prob->scratch[slot];
	int			P = prob->P;

	for (;;)
	{
		int64		s;
		int64		b0;
		int64		b1;
		int64		b;
		double	   *seg;

		if (slot == 0 && InterruptPending && INTERRUPTS_CAN_BE_PROCESSED())
			__atomic_store_n(&pass->stop, true, __ATOMIC_RELAXED);
		if (__atomic_load_n(&pass->stop, __ATOMIC_RELAXED))
			break;
		s = LogisticTakeSegment(pass, slot);
		if (s < 0)
			break;
		b0 = s * prob->seg_blocks;
		b1 = Min(b0 + prob->seg_blocks, prob->nblocks);
		seg = prob->sums + (Size) s * (P + 2);
		memset(seg, 0, sizeof(double) * (P + 2));
		for (b = b0; b < b1; b++)
		{
			/* the front thread's next block is next; the helper's maybe not */
			int64		next_b = b + 1 < b1 || slot == 0 ? b + 1 : -1;

			LogisticBlockWork(pass, sc, b, next_b, seg);
		}
	}
}

/* The helper thread's body. */
static void *
LogisticHelperThread(void *arg)
{
	LogisticWorkSegments((LogisticPass *) arg, 1);
	return NULL;
}

/*
 * Run a pass over every segment, in the backend's thread and, on a large
 * input, one helper thread.  The helper runs with every signal blocked (a
 * backend's signal handlers must run in its main thread), touches no
 * PostgreSQL state and allocates nothing, and never outlives this call.
 * The interrupts are served here, between the helper's join and the next
 * start: the backend's thread stops taking segments as soon as one is
 * pending, so a cancel waits for a segment at most.  If the helper cannot
 * be started, this thread takes every segment.
 */
static void
LogisticRunPass(LogisticPass *pass)
{
	LogisticProblem *prob = pass->prob;

	pass->todo = (uint64) prob->nsegs;	/* lo = 0, end = nsegs */
	for (;;)
	{
		pthread_t	tid;
		bool		started = false;
		uint64		todo;

		pass->stop = false;
		if (prob->threads > 1)
		{
			sigset_t	all;
			sigset_t	old;

			/* the helper inherits a mask that blocks every signal */
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			started = pthread_create(&tid, NULL, LogisticHelperThread, pass) == 0;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		LogisticWorkSegments(pass, 0);
		if (started)
			pthread_join(tid, NULL);
		CHECK_FOR_INTERRUPTS();
		todo = __atomic_load_n(&pass->todo, __ATOMIC_RELAXED);
		if ((todo >> 32) >= (todo & UINT64CONST(0xffffffff)))
			break;
	}
}

/*
 * The loss of the last pass (returned), its derivative along the
 * direction (*dphi) and, unless grad is NULL, its gradient: the segments'
 * sums added in segment order.
 */
static double
LogisticSum(const LogisticProblem *prob, double *grad, double *dphi)
{
	int			P = prob->P;
	double		f = 0;
	double		dp = 0;
	int64		s;
	int			j;

	if (grad != NULL)
		memset(grad, 0, sizeof(double) * P);
	for (s = 0; s < prob->nsegs; s++)
	{
		const double *seg = prob->sums + (Size) s * (P + 2);

		f += seg[P];
		dp += seg[P + 1];
		if (grad != NULL)
			for (j = 0; j < P; j++)
				grad[j] += seg[j];
	}
	*dphi = dp;
	return f;
}

/* grad += [X_b^T R_b ; column sums of R_b].  Runs in any thread. */
static void
LogisticBlockGradient(const LogisticProblem *prob, const double *Xb, int rows,
					  const double *r, double *grad)
{
	int			K = prob->K;
	int			p = prob->p;
	int			i;
	int			k;

	cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, K, rows,
				1.0, Xb, (int) prob->n, r, rows, 1.0, grad, p);
	if (prob->fit_intercept)
	{
		for (k = 0; k < K; k++)
		{
			const double *rk = r + (Size) k * rows;
			double		s = 0;

			for (i = 0; i < rows; i++)
				s += rk[i];
			grad[(Size) K * p + k] += s;
		}
	}
}

/*
 * Add the penalty ||W||^2 / (2C) to f, its gradient to grad and its
 * derivative along dir to dphi (grad, dir and dphi may be NULL).  Only the
 * coefficients are penalized, never the intercepts.
 */
static void
LogisticAddPenalty(const LogisticProblem *prob, const double *theta,
				   const double *dir, double *f, double *grad, double *dphi)
{
	int			nw = prob->K * prob->p;
	double		lambda = prob->lambda;
	int			j;

	if (lambda == 0)
		return;
	*f += 0.5 * lambda * cblas_ddot(nw, theta, 1, theta, 1);
	if (grad != NULL)
		for (j = 0; j < nw; j++)
			grad[j] += lambda * theta[j];
	if (dir != NULL && dphi != NULL)
		*dphi += lambda * cblas_ddot(nw, theta, 1, dir, 1);
}

/* max_j |v_j|, NaN if any entry is NaN */
static double
LogisticMaxAbs(const double *v, int n)
{
	double		m = 0;
	int			j;

	for (j = 0; j < n; j++)
	{
		if (isnan(v[j]))
			return NAN;
		m = Max(m, fabs(v[j]));
	}
	return m;
}

/*
 * The L-BFGS direction d = -H g by the two-loop recursion over the nmem
 * newest pairs of the ring (newest at index newest), with H0 = gamma I.
 */
static void
LogisticDirection(int P, const double *g, int nmem, int newest,
				  const double *S, const double *Yv, const double *rho,
				  double gamma, double *a, double *d)
{
	int			j;

	memcpy(d, g, sizeof(double) * P);
	for (j = 0; j < nmem; j++)
	{
		int			idx = (newest - j + LOGISTIC_MEMORY) % LOGISTIC_MEMORY;

		a[idx] = rho[idx] * cblas_ddot(P, S + (Size) idx * P, 1, d, 1);
		cblas_daxpy(P, -a[idx], Yv + (Size) idx * P, 1, d, 1);
	}
	if (nmem > 0)
		cblas_dscal(P, gamma, d, 1);
	for (j = nmem - 1; j >= 0; j--)
	{
		int			idx = (newest - j + LOGISTIC_MEMORY) % LOGISTIC_MEMORY;
		double		bj = rho[idx] * cblas_ddot(P, Yv + (Size) idx * P, 1, d, 1);

		cblas_daxpy(P, a[idx] - bj, S + (Size) idx * P, 1, d, 1);
	}
	cblas_dscal(P, -1.0, d, 1);
}

/*
 * Fit the model (see logistic.h).  The loop is L-BFGS-B's for an
 * unconstrained problem; see the top of the file for what it keeps of
 * scipy's choices and why each iteration reads X only once or twice.
 */
void
LogisticFit(const double *X, int64 n, int p, const int *y, int nclasses,
			const LogisticOptions *opts, LogisticModel *model)
{
	LogisticProblem prob;
	int			P;
	int			K;
	double	   *theta;
	double	   *theta_t;
	double	   *g;
	double	   *g_t;
	double	   *d;
	double	   *S;
	double	   *Yv;
	double	   *rho;
	double	   *a;
	double		gamma = 1.0;
	int			nmem = 0;
	int			newest = LOGISTIC_MEMORY - 1;
	double		f;
	int			n_iter = 0;
	bool		converged = false;

	if (n > (int64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("logistic regression cannot fit more than %d rows", PG_INT32_MAX)));
	LogisticProblemInit(&prob, X, n, p, y, nclasses, opts);
	LogisticCheckClasses(y, n, nclasses);
	P = prob.P;
	K = prob.K;

	theta = (double *) palloc0(sizeof(double) * P);
	theta_t = (double *) palloc(sizeof(double) * P);
	g = (double *) palloc(sizeof(double) * P);
	g_t = (double *) palloc(sizeof(double) * P);
	d = (double *) palloc(sizeof(double) * P);
	S = (double *) palloc(sizeof(double) * LOGISTIC_MEMORY * P);
	Yv = (double *) palloc(sizeof(double) * LOGISTIC_MEMORY * P);
	rho = (double *) palloc(sizeof(double) * LOGISTIC_MEMORY);
	a = (double *) palloc(sizeof(double) * LOGISTIC_MEMORY);

	/*
	 * At theta = 0 every residual is nonzero (1/2 - y, or 1/K - [k = y]), so
	 * a NaN or infinite feature cannot vanish from the gradient.
	 */
	f = LogisticForward(&prob, theta, NULL, g, NULL);
	if (!isfinite(f) || !isfinite(LogisticMaxAbs(g, P)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot fit logistic regression: the features contain NaN, infinity or values too large"),
				 errhint("Filter out or impute such values, or standardize the features.")));
	converged = LogisticMaxAbs(g, P) <= opts->tol;

	while (!converged && n_iter < opts->max_iter)
	{
		LineSearch	ls;
		LineSearchTask task = LS_EVALUATE;
		double		gd;
		double		stp;
		double		ref;
		double		f_t;
		double		dphi_t;
		double		fold;
		double		sy;
		double		yy;
		bool		have_grad;
		bool		failed = false;
		int			nevals;
		int			j;

		CHECK_FOR_INTERRUPTS();
		LogisticDirection(P, g, nmem, newest, S, Yv, rho, gamma, a, d);
		gd = cblas_ddot(P, g, 1, d, 1);
		if (!(gd < 0))
		{
			/* not a descent direction: rounding has won; restart or stop */
			if (nmem == 0)
				break;
			nmem = 0;
			continue;
		}
		stp = nmem == 0 ? Min(1.0 / cblas_dnrm2(P, d, 1), LS_STPMAX) : 1.0;

		/* first trial: one pass over X for f, gradient and U = X d */
		for (j = 0; j < P; j++)
			theta_t[j] = theta[j] + stp * d[j];
		f_t = LogisticForward(&prob, theta_t, d, g_t, &dphi_t);
		ref = stp;
		have_grad = true;
		nevals = 1;
		LineSearchStart(&ls, f, gd, stp);

		for (;;)
		{
			if (!isfinite(f_t) || !isfinite(dphi_t))
			{
				/* overflow far along d: back off towards the best step */
				stp = ls.stx + 0.5 * (stp - ls.stx);
			}
			else
			{
				task = LineSearchNext(&ls, f_t, dphi_t, &stp);
				if (task != LS_EVALUATE)
					break;
			}
			if (nevals >= LS_MAX_EVALS)
			{
				failed = true;
				break;
			}
			for (j = 0; j < P; j++)
				theta_t[j] = theta[j] + stp * d[j];
			f_t = LogisticAlong(&prob, stp - ref, false, NULL, &dphi_t);
			LogisticAddPenalty(&prob, theta_t, d, &f_t, NULL, &dphi_t);
			have_grad = false;
			nevals++;
		}

		if (failed)
		{
			/* back to theta's predictor, then restart or stop like L-BFGS-B */
			LogisticForward(&prob, theta, NULL, NULL, NULL);
			if (nmem == 0)
				break;
			nmem = 0;
			continue;
		}
		if (!have_grad)
		{
			/* the accepted step was a cheap trial: its gradient needs X */
			f_t = LogisticAlong(&prob, stp - ref, true, g_t, &dphi_t);
			LogisticAddPenalty(&prob, theta_t, d, &f_t, g_t, &dphi_t);
		}

		/* the pair (s, y) = (theta_t - theta, g_t - g), kept if s'y > 0 */
		newest = (newest + 1) % LOGISTIC_MEMORY;
		for (j = 0; j < P; j++)
		{
			S[(Size) newest * P + j] = theta_t[j] - theta[j];
			Yv[(Size) newest * P + j] = g_t[j] - g[j];
		}
		sy = cblas_ddot(P, S + (Size) newest * P, 1, Yv + (Size) newest * P, 1);
		yy = cblas_ddot(P, Yv + (Size) newest * P, 1, Yv + (Size) newest * P, 1);
		if (sy > DBL_EPSILON * (-gd * stp) && yy > 0)
		{
			rho[newest] = 1.0 / sy;
			gamma = sy / yy;
			nmem = Min(nmem + 1, LOGISTIC_MEMORY);
		}
		else
			newest = (newest - 1 + LOGISTIC_MEMORY) % LOGISTIC_MEMORY;

		fold = f;
		memcpy(theta, theta_t, sizeof(double) * P);
		memcpy(g, g_t, sizeof(double) * P);
		f = f_t;
		n_iter++;

		if (LogisticMaxAbs(g, P) <= opts->tol)
			converged = true;
		else if (fold - f <= LOGISTIC_FTOL * Max(Max(fabs(fold), fabs(f)), 1.0))
			converged = true;
	}

	model->p = p;
	model->nclasses = nclasses;
	model->nsets = K;
	model->coef = (double *) palloc(sizeof(double) * K * p);
	memcpy(model->coef, theta, sizeof(double) * K * p);
	model->intercept = (double *) palloc0(sizeof(double) * K);
	if (opts->fit_intercept)
		memcpy(model->intercept, theta + (Size) K * p, sizeof(double) * K);
	model->n_iter = n_iter;
	model->converged = converged;
	model->final_loss = f;

	pfree(theta);
	pfree(theta_t);
	pfree(g);
	pfree(g_t);
	pfree(d);
	pfree(S);
	pfree(Yv);
	pfree(rho);
	pfree(a);
	LogisticProblemFree(&prob);
}

/*
 * The objective for tests and diagnostics, through the fit's own code
 * path (LogisticForward), so a finite-difference check of it checks the
 * gradient the optimizer sees.
 */
double
LogisticObjective(const double *X, int64 n, int p, const int *y, int nclasses,
				  const LogisticOptions *opts, const double *theta, double *grad)
{
	LogisticProblem prob;
	double		f;

	if (n > (int64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("logistic regression cannot fit more than %d rows", PG_INT32_MAX)));
	LogisticProblemInit(&prob, X, n, p, y, nclasses, opts);
	LogisticCheckClasses(y, n, nclasses);
	f = LogisticForward(&prob, theta, NULL, grad, NULL);
	LogisticProblemFree(&prob);
	return f;
}

/* Decision values z = W x + b of one row, nsets of them. */
static void
LogisticDecision(const LogisticModel *model, const double *x, double *z)
{
	int			k;

	memcpy(z, model->intercept, sizeof(double) * model->nsets);
	cblas_dgemv(CblasRowMajor, CblasNoTrans, model->nsets, model->p, 1.0,
				model->coef, model->p, x, 1, 1.0, z, 1);
	for (k = 0; k < model->nsets; k++)
		if (isnan(z[k]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("cannot predict from features containing NaN")));
}

/* BLAS takes a matrix's leading dimension as an int */
static void
LogisticCheckRowLimit(int64 n)
{
	if (n > (int64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("logistic regression cannot score more than %d rows at once",
						PG_INT32_MAX)));
}

void
LogisticDecisionMany(const LogisticModel *model, const double *X, int64 ld, int rows,
					 double *Z)
{
	int			K = model->nsets;

	if (rows <= 0)
		return;
	LogisticCheckRowLimit(ld);
	for (int k = 0; k < K; k++)
		for (int i = 0; i < rows; i++)
			Z[(Size) k * rows + i] = model->intercept[k];
	/* W (K x p, row-major) is W^T column-major */
	cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, rows, K, model->p,
				1.0, X, (int) ld, model->coef, model->p, 1.0, Z, rows);
}

/* sigmoid without overflow */
static inline double
LogisticExpit(double z)
{
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	else
	{
		double		e = exp(z);

		return e / (1.0 + e);
	}
}

/*
 * Probabilities from decision values: for two classes each side's own
 * sigmoid (so a tiny probability keeps its digits), otherwise the softmax
 * with its maximum subtracted.
 */
static void
LogisticProbaFromDecision(int nclasses, const double *z, double *proba)
{
	if (nclasses == 2)
	{
		proba[0] = LogisticExpit(-z[0]);
		proba[1] = LogisticExpit(z[0]);
	}
	else
	{
		double		m = z[0];
		double		s = 0;
		int			k;

		for (k = 1; k < nclasses; k++)
			m = Max(m, z[k]);
		for (k = 0; k < nclasses; k++)
		{
			proba[k] = exp(z[k] - m);
			s += proba[k];
		}
		for (k = 0; k < nclasses; k++)
			proba[k] /= s;
	}
}

void
LogisticPredictProba(const LogisticModel *model, const double *x, double *proba)
{
	double		zbuf[16];
	double	   *z = model->nsets <= (int) lengthof(zbuf) ? zbuf :
		(double *) palloc(sizeof(double) * model->nsets);

	LogisticDecision(model, x, z);
	LogisticProbaFromDecision(model->nclasses, z, proba);
	if (z != zbuf)
		pfree(z);
}

int
LogisticPredictClass(const LogisticModel *model, const double *x)
{
	double		zbuf[16];
	double	   *z = model->nsets <= (int) lengthof(zbuf) ? zbuf :
		(double *) palloc(sizeof(double) * model->nsets);
	int			best = 0;
	int			k;

	LogisticDecision(model, x, z);
	if (model->nclasses == 2)
		best = z[0] > 0 ? 1 : 0;
	else
		for (k = 1; k < model->nsets; k++)
			if (z[k] > z[best])
				best = k;
	if (z != zbuf)
		pfree(z);
	return best;
}

/*
 * Many rows at once: the decision values of a block of rows come from one
 * matrix product, then each row's probabilities from them.
 */
void
LogisticPredictProbaMany(const LogisticModel *model, const double *X, int64 n,
						 double *proba)
{
	int			K = model->nsets;
	int			p = model->p;
	int			nc = model->nclasses;
	int			block_rows;
	double	   *Z;
	double	   *zrow;
	int64		r0;

	if (n <= 0)
		return;
	LogisticCheckRowLimit(n);
	block_rows = Max(LOGISTIC_MIN_BLOCK_ROWS,
					 Min(LOGISTIC_MAX_BLOCK_ROWS, LOGISTIC_BLOCK_BYTES / (int) sizeof(double) / Max(p, 1)));
	block_rows = (int) Min((int64) block_rows, n);
	Z = (double *) palloc(sizeof(double) * block_rows * K);
	zrow = (double *) palloc(sizeof(double) * K);

	for (r0 = 0; r0 < n; r0 += block_rows)
	{
		int			rows = (int) Min((int64) block_rows, n - r0);
		int			i;
		int			k;

		CHECK_FOR_INTERRUPTS();
		/* Z (rows x K, column-major) = X_b W^T; W (K x p, row-major) is W^T column-major */
		cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, rows, K, p,
					1.0, X + r0, (int) n, model->coef, p, 0.0, Z, rows);
		for (i = 0; i < rows; i++)
		{
			for (k = 0; k < K; k++)
			{
				zrow[k] = Z[(Size) k * rows + i] + model->intercept[k];
				if (isnan(zrow[k]))
					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("cannot predict from features containing NaN")));
			}
			LogisticProbaFromDecision(nc, zrow, proba + (Size) (r0 + i) * nc);
		}
	}
	pfree(Z);
	pfree(zrow);
}


/*
 * Start a More-Thuente line search from f(0) = f, f'(0) = g < 0, with
 * first trial step stp (MINPACK-2's dcsrch with task START).
 */
static void
LineSearchStart(LineSearch *ls, double f, double g, double stp)
{
	ls->brackt = false;
	ls->stage = 1;
	ls->finit = f;
	ls->ginit = g;
	ls->gtest = LS_FTOL * g;
	ls->width = LS_STPMAX;
	ls->width1 = ls->width / 0.5;
	ls->stx = 0;
	ls->fx = f;
	ls->gx = g;
	ls->sty = 0;
	ls->fy = f;
	ls->gy = g;
	ls->stmin = 0;
	ls->stmax = stp + 4.0 * stp;
}

/*
 * Take f and f' at *stp: either accept the step (strong Wolfe conditions,
 * or no further progress possible) or put the next trial step in *stp.
 * This is dcsrch's decision logic: the sufficient-decrease test with
 * LS_FTOL, the curvature test with LS_GTOL, the interval of uncertainty
 * updated by LineSearchStep on f (stage 1: on f minus the sufficient-
 * decrease line), bisection when the interval does not shrink fast
 * enough, and extrapolation by 1.1 to 4 times the last step.
 */
static LineSearchTask
LineSearchNext(LineSearch *ls, double f, double g, double *stp_p)
{
	double		stp = *stp_p;
	double		ftest = ls->finit + stp * ls->gtest;
	LineSearchTask task = LS_EVALUATE;

	if (ls->stage == 1 && f <= ftest && g >= 0)
		ls->stage = 2;

	if (ls->brackt && (stp <= ls->stmin || stp >= ls->stmax))
		task = LS_WARNING;		/* rounding errors prevent progress */
	if (ls->brackt && ls->stmax - ls->stmin <= LS_XTOL * ls->stmax)
		task = LS_WARNING;		/* interval small enough */
	if (stp == LS_STPMAX && f <= ftest && g <= ls->gtest)
		task = LS_WARNING;
	if (stp == 0 && (f > ftest || g >= ls->gtest))
		task = LS_WARNING;
	if (f <= ftest && fabs(g) <= LS_GTOL * (-ls->ginit))
		task = LS_CONVERGED;
	if (task != LS_EVALUATE)
		return task;

	if (ls->stage == 1 && f <= ls->fx && f > ftest)
	{
		double		gtest = ls->gtest;
		double		fm = f - stp * gtest;
		double		fxm = ls->fx - ls->stx * gtest;
		double		fym = ls->fy - ls->sty * gtest;
		double		gm = g - gtest;
		double		gxm = ls->gx - gtest;
		double		gym = ls->gy - gtest;

		LineSearchStep(&ls->stx, &fxm, &gxm, &ls->sty, &fym, &gym, &stp, fm, gm,
					   &ls->brackt, ls->stmin, ls->stmax);
		ls->fx = fxm + ls->stx * gtest;
		ls->fy = fym + ls->sty * gtest;
		ls->gx = gxm + gtest;
		ls->gy = gym + gtest;
	}
	else
		LineSearchStep(&ls->stx, &ls->fx, &ls->gx, &ls->sty, &ls->fy, &ls->gy,
					   &stp, f, g, &ls->brackt, ls->stmin, ls->stmax);

	if (ls->brackt)
	{
		if (fabs(ls->sty - ls->stx) >= 0.66 * ls->width1)
			stp = ls->stx + 0.5 * (ls->sty - ls->stx);
		ls->width1 = ls->width;
		ls->width = fabs(ls->sty - ls->stx);
		ls->stmin = Min(ls->stx, ls->sty);
		ls->stmax = Max(ls->stx, ls->sty);
	}
	else
	{
		ls->stmin = stp + 1.1 * (stp - ls->stx);
		ls->stmax = stp + 4.0 * (stp - ls->stx);
	}
	stp = Max(stp, 0.0);
	stp = Min(stp, LS_STPMAX);
	if (ls->brackt && (stp <= ls->stmin || stp >= ls->stmax ||
					   ls->stmax - ls->stmin <= LS_XTOL * ls->stmax))
		stp = ls->stx;
	*stp_p = stp;
	return LS_EVALUATE;
}

/*
 * One safeguarded step of the More-Thuente search (MINPACK-2's dcstep):
 * from the best step stx, the other end sty of the interval and the new
 * step stp, with function values and derivatives, choose the next trial
 * by cubic, quadratic or secant interpolation as the four cases of the
 * paper prescribe, and update the interval.
 */
static void
LineSearchStep(double *stx, double *fx, double *dx, double *sty, double *fy,
			   double *dy, double *stp, double fp, double dp, bool *brackt,
			   double stpmin, double stpmax)
{
	double		sgnd = dp * (*dx / fabs(*dx));
	double		stpf;
	double		stpc;
	double		stpq;
	double		theta;
	double		s;
	double		gamma;
	double		pp;
	double		q;
	double		r;

	if (fp > *fx)
	{
		/* higher value: the minimum is bracketed; cubic or quadratic */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = Max(Max(fabs(theta), fabs(*dx)), fabs(dp));
		gamma = s * sqrt(Max(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
		if (*stp < *stx)
			gamma = -gamma;
		pp = (gamma - *dx) + theta;
		q = ((gamma - *dx) + gamma) + dp;
		r = pp / q;
		stpc = *stx + r * (*stp - *stx);
		stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
		if (fabs(stpc - *stx) < fabs(stpq - *stx))
			stpf = stpc;
		else
			stpf = stpc + (stpq - stpc) / 2.0;
		*brackt = true;
	}
	else if (sgnd < 0)
	{
		/* derivatives of opposite sign: bracketed; cubic or secant */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = Max(Max(fabs(theta), fabs(*dx)), fabs(dp));
		gamma = s * sqrt(Max(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
		if (*stp > *stx)
			gamma = -gamma;
		pp = (gamma - dp) + theta;
		q = ((gamma - dp) + gamma) + *dx;
		r = pp / q;
		stpc = *stp + r * (*stx - *stp);
		stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
		if (fabs(stpc - *stp) > fabs(stpq - *stp))
			stpf = stpc;
		else
			stpf = stpq;
		*brackt = true;
	}
	else if (fabs(dp) < fabs(*dx))
	{
		/* lower value, same sign, derivative decreasing in magnitude */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = Max(Max(fabs(theta), fabs(*dx)), fabs(dp));
		gamma = s * sqrt(Max(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
		if (*stp > *stx)
			gamma = -gamma;
		pp = (gamma - dp) + theta;
		q = (gamma + (*dx - dp)) + gamma;
		r = pp / q;
		if (r < 0 && gamma != 0)
			stpc = *stp + r * (*stx - *stp);
		else if (*stp > *stx)
			stpc = stpmax;
		else
			stpc = stpmin;
		stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
		if (*brackt)
		{
			stpf = fabs(stpc - *stp) < fabs(stpq - *stp) ? stpc : stpq;
			if (*stp > *stx)
				stpf = Min(*stp + 0.66 * (*sty - *stp), stpf);
			else
				stpf = Max(*stp + 0.66 * (*sty - *stp), stpf);
		}
		else
		{
			stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
			stpf = Min(stpmax, stpf);
			stpf = Max(stpmin, stpf);
		}
	}
	else
	{
		/* lower value, same sign, derivative not decreasing */
		if (*brackt)
		{
			theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
			s = Max(Max(fabs(theta), fabs(*dy)), fabs(dp));
			gamma = s * sqrt(Max(0.0, (theta / s) * (theta / s) - (*dy / s) * (dp / s)));
			if (*stp > *sty)
				gamma = -gamma;
			pp = (gamma - dp) + theta;
			q = ((gamma - dp) + gamma) + *dy;
			r = pp / q;
			stpc = *stp + r * (*sty - *stp);
			stpf = stpc;
		}
		else if (*stp > *stx)
			stpf = stpmax;
		else
			stpf = stpmin;
	}

	/* update the interval of uncertainty */
	if (fp > *fx)
	{
		*sty = *stp;
		*fy = fp;
		*dy = dp;
	}
	else
	{
		if (sgnd < 0)
		{
			*sty = *stx;
			*fy = *fx;
			*dy = *dx;
		}
		*stx = *stp;
		*fx = fp;
		*dx = dp;
	}
	*stp = stpf;
}

/*-------------------------------------------------------------------------
 *
 * lsq.h
 *	  Least squares by a streaming tall-skinny QR (TSQR).
 *
 * The state is the upper-triangular factor R of the augmented matrix
 * A = [1 | X | y] seen so far (d = k + 2 columns for k design columns).
 * Rows are buffered and folded into R with a triangular-pentagonal QR;
 * two states merge by a QR of their stacked R factors.  Since
 * ||A z|| = ||R z|| for every z, R alone answers ordinary and ridge least
 * squares, residual and total sums of squares, column means and standard
 * deviations -- without ever forming the normal equations.
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_LSQ_H
#define AIF_LSQ_H

#include "postgres.h"

#define LSQ_BLOCK_ROWS	256		/* rows buffered before a fold into R */
#define LSQ_MAX_COLS	4096	/* d limit (keeps R under 128 MB) */

typedef struct LsqState
{
	int			d;				/* columns of [1 | X | y] */
	int64		nrows;			/* rows absorbed, buffered ones included */
	double	   *R;				/* d x d, column-major, upper triangle used;
								 * all zero before the first fold */
	int			nbuf;			/* rows waiting in buf */
	double	   *buf;			/* LSQ_BLOCK_ROWS x d, column-major; also
								 * scratch for LsqMerge and LsqSolve */
	int			nb;				/* column block size of the dtpqrt calls */
	double	   *scratch;		/* dtpqrt's T and work, nb x d each */
} LsqState;

/* How LsqSolve should treat the problem. */
typedef struct LsqOptions
{
	bool		intercept;		/* fit column 0 (the ones) as an intercept */
	double		alpha;			/* ridge penalty; 0 for ordinary LS */
	const double *penalty_scale;	/* k weights s_j: penalty alpha * sum (s_j b_j)^2;
									 * NULL means all ones */
	bool		want_stderr;	/* compute standard errors (alpha == 0 only) */
} LsqOptions;

typedef struct LsqFit
{
	int			k;				/* design columns (d - 2) */
	double		intercept;		/* 0 when !intercept */
	double	   *beta;			/* k coefficients */
	double		intercept_se;	/* NaN when not computed */
	double	   *se;				/* k standard errors, or NULL */
	int64		nrows;
	int			df_resid;		/* nrows - parameters */
	double		rss;			/* residual sum of squares on the data in R */
	double		tss;			/* total SS: centered if intercept, else raw */
	double		r2;				/* 1 - rss/tss (NaN if tss == 0) */
	int			rank_deficient_col;	/* -1, or the first design column (0-based,
									 * in 0..k-1) that is numerically a linear
									 * combination of the earlier columns (and
									 * the intercept); beta is then not set */
} LsqFit;

extern LsqState *LsqCreate(int d);

/*
 * row holds all d values of one row of A: row[0] must be 1 (the intercept
 * column, checked), then the k features, then y in row[d - 1].
 */
extern void LsqAddRow(LsqState *state, const double *row);
extern void LsqFlush(LsqState *state);
extern void LsqMerge(LsqState *into, LsqState *from);

/* Serialized form: a flat array of doubles; see lsq.c for the layout. */
extern Size LsqSerializedSize(int d);
extern void LsqSerialize(LsqState *state, char *dst);
extern LsqState *LsqDeserialize(const char *src, Size len);

/* Column statistics read off R (after LsqFlush); column index in 1..d-1. */
extern double LsqColumnMean(const LsqState *state, int col);
extern double LsqColumnStd(const LsqState *state, int col);	/* population */

/*
 * Flushes the state, then fills fit; its arrays are palloc'd in the current
 * memory context.  beta always has k entries (NaN, like intercept and rss,
 * when rank_deficient_col >= 0).  se is NULL unless standard errors were
 * computed (want_stderr, alpha == 0, full rank, df_resid > 0).  df_resid
 * is capped at INT_MAX.  ERROR on zero rows or a negative/non-finite alpha.
 */
extern void LsqSolve(LsqState *state, const LsqOptions *opts, LsqFit *fit);
extern double LsqRss(LsqState *state, double intercept, const double *beta);
extern double LsqRcond(LsqState *state, const LsqOptions *opts);
extern void LsqSolveCorrection(LsqState *state, const LsqOptions *opts,
							   const double *g, double *delta);

#endif							/* AIF_LSQ_H */

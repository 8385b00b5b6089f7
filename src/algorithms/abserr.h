/*-------------------------------------------------------------------------
 *
 * abserr.h
 *	  Exact squared and absolute errors of a linear model on rows seen
 *	  before the model is known, without keeping most of the rows.
 *
 * The model's coefficients b are only known after the scan, but a pilot
 * p fitted on the rows seen so far is close to them.  For a row (x, y)
 * with pilot residual r = y - x.p and d = b - p:
 *
 *	  y - x.b = r - x.d
 *	  (y - x.b)^2 = r^2 - 2 (r x).d + d' (x x') d
 *	  |y - x.b| = s (y - x.b) with s = sign(r), when |x.d| < |r|
 *
 * so per group of rows sharing a pilot, the sums of r^2, r x and x x' give
 * the squared errors for any b, and the sums of s y and s x the absolute
 * errors -- provided no row's sign flips, which holds when
 * sum_j max|x_j| |d_j| < tau and every summed row had |r| > tau.  Rows with
 * |r| <= tau are not summed: the caller keeps them and evaluates them
 * itself.  A state holds several groups (a new pilot starts a new one;
 * merging states concatenates them).
 *
 * Pure numerics: palloc/ereport and BLAS only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_ABSERR_H
#define AIF_ABSERR_H

#include "postgres.h"

#define ABSERR_BLOCK 256

typedef struct AbsErrGroup
{
	double	   *pilot;			/* m */
	double		tau;
	int64		rows;
	double		sy;				/* sum s y */
	double	   *sx;				/* sum s x (m) */
	double	   *absmax;			/* max |x_j| (m) */
	double		r2;				/* sum r^2 */
	double	   *rx;				/* sum r x (m) */
	double	   *gram;			/* sum x x', m x m, upper triangle, col-major */
} AbsErrGroup;

typedef struct AbsErrState
{
	int			m;				/* columns of x (intercept's 1 included) */
	int			ngroups;
	int			capacity;
	AbsErrGroup *groups;		/* the last one is current */
	int			nbuf;			/* rows of the current group not yet in gram */
	double	   *buf;			/* ABSERR_BLOCK x m, column-major */
} AbsErrState;

extern AbsErrState *AbsErrCreate(int m);
extern void AbsErrPilot(AbsErrState *state, const double *pilot, double tau);
/* Sum the row in the current group, or return false: the caller keeps it. */
extern bool AbsErrAdd(AbsErrState *state, const double *x, double y);
extern void AbsErrMerge(AbsErrState *into, AbsErrState *from);
extern Size AbsErrSerializedSize(AbsErrState *state);
extern void AbsErrSerialize(AbsErrState *state, char *dst);
extern AbsErrState *AbsErrDeserialize(const char *src, Size len);
/*
 * Sum of squared and of absolute errors of coefficients b (m) over the
 * summed rows; false when a group cannot prove its signs unchanged.
 */
extern bool AbsErrFinish(AbsErrState *state, const double *b, double *sse,
						 double *sae, int64 *rows);

#endif							/* AIF_ABSERR_H */

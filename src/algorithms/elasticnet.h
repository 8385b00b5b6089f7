/*-------------------------------------------------------------------------
 *
 * elasticnet.h
 *	  Elastic net (and the lasso) by cyclic coordinate descent, as
 *	  scikit-learn 1.2's ElasticNet and Lasso define it.
 *
 * Minimizes, over w and an unpenalized intercept b,
 *
 *		1/(2n) ||y - X w - b||^2 + alpha * l1_ratio * ||w||_1
 *								 + 0.5 * alpha * (1 - l1_ratio) * ||w||^2
 *
 * with sklearn's defaults (alpha 1, l1_ratio 0.5, max_iter 1000, tol 1e-4,
 * fit_intercept true) and its stopping rule, so hyperparameters tuned
 * there carry over.  l1_ratio = 1 is the lasso.  The intercept comes from
 * centering X and y; X itself is never standardized here (the caller does
 * that when it wants the penalty on the standardized scale).
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_ELASTICNET_H
#define AIF_ELASTICNET_H

#include "postgres.h"

/* scikit-learn's defaults */
#define ELASTICNET_DEFAULT_ALPHA		1.0
#define ELASTICNET_DEFAULT_L1_RATIO		0.5
#define ELASTICNET_DEFAULT_MAX_ITER		1000
#define ELASTICNET_DEFAULT_TOL			1e-4

/*
 * Largest p for which the Gram-matrix solver is chosen automatically
 * (the Gram matrix then takes at most 8 MB).
 */
#define ELASTICNET_GRAM_MAX_P			1024

typedef struct ElasticNetOptions
{
	double		alpha;			/* overall penalty, >= 0 */
	double		l1_ratio;		/* L1 share of the penalty, in [0, 1] */
	int			max_iter;		/* sweeps over all coordinates, >= 1 */
	double		tol;			/* sklearn's tol, >= 0 */
	bool		fit_intercept;	/* center X and y, unpenalized intercept */
} ElasticNetOptions;

typedef struct ElasticNetFit
{
	int			p;
	double	   *coef;			/* p coefficients, palloc'd */
	double		intercept;		/* 0 when !fit_intercept */
	int			n_iter;			/* sweeps run (sklearn's n_iter_) */
	bool		converged;		/* duality gap reached the tolerance; as in
								 * sklearn never with alpha = 0 or
								 * l1_ratio = 0, where the gap test
								 * degenerates: those fits run max_iter
								 * sweeps (their coefficients do converge) */
	double		dual_gap;		/* last duality gap, on the 1/(2n) scale of
								 * the objective (sklearn's dual_gap_) */
} ElasticNetFit;

/* How the coordinate updates are computed; the iterates are the same. */
typedef enum ElasticNetSolver
{
	ELASTICNET_SOLVER_AUTO,		/* Gram when n >= 2p and p <= GRAM_MAX_P */
	ELASTICNET_SOLVER_GRAM,		/* p x p Gram matrix of centered X, one pass
								 * over the data, then O(p^2) per sweep */
	ELASTICNET_SOLVER_RESIDUAL	/* residual vector updated per coordinate,
								 * O(n p) per sweep, no p x p memory */
} ElasticNetSolver;

/* Fill opts with scikit-learn's defaults. */
extern void ElasticNetOptionsInit(ElasticNetOptions *opts);

/*
 * X is n x p, column-major (column j at X + j * n), and is not modified.
 * fit->coef is palloc'd in the current memory context.  ERROR
 * (INVALID_PARAMETER_VALUE) on a bad option, n < 1 or p < 1; not
 * converging within max_iter is not an error (converged = false).
 * X and y must be finite: the caller rejects NaN and infinity.
 */
extern void ElasticNetFitDense(const double *X, const double *y, int64 n, int p,
							   const ElasticNetOptions *opts, ElasticNetFit *fit);
extern void ElasticNetFitDenseSolver(const double *X, const double *y, int64 n, int p,
									 const ElasticNetOptions *opts,
									 ElasticNetSolver solver, ElasticNetFit *fit);

#endif							/* AIF_ELASTICNET_H */

/*-------------------------------------------------------------------------
 *
 * logistic.h
 *	  L2-penalized logistic regression (binary and multinomial) by L-BFGS.
 *
 * The model is scikit-learn 1.2's LogisticRegression(penalty='l2',
 * solver='lbfgs'), so that a C tuned there carries over.  With W the
 * coefficients (nsets x p) and b the intercepts, the fit minimizes
 *
 *		f(W, b) = sum_i loss_i(W x_i + b) + ||W||_F^2 / (2 C)
 *
 * which is sklearn's objective 0.5 ||W||^2 + C sum_i loss_i divided by C,
 * the scaling sklearn hands to scipy's L-BFGS-B (and so the one its tol
 * applies to).  The intercept is not penalized.  Binary problems
 * (nclasses == 2) have one coefficient vector and the log-loss of the
 * sigmoid, class 1 being the positive class; multinomial ones (nclasses >
 * 2) have one vector per class and the cross-entropy of the softmax
 * (sklearn's over-parameterized 'multinomial' form).
 *
 * Stopping is that of L-BFGS-B as sklearn calls it: converged when
 * max_j |df/dtheta_j| <= tol, or when an iteration lowers f by no more
 * than 2.2e-9 * max(|f|, 1) (scipy's default ftol); otherwise after
 * max_iter iterations, which is not an error (converged = false; sklearn
 * warns in that case).
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_LOGISTIC_H
#define AIF_LOGISTIC_H

#include "postgres.h"

/* sklearn's defaults */
#define LOGISTIC_DEFAULT_C			1.0
#define LOGISTIC_DEFAULT_MAX_ITER	100
#define LOGISTIC_DEFAULT_TOL		1e-4

/*
 * Threads that evaluate the loss and gradient on large inputs (capped at
 * the online processors); the results are the same for any number.
 */
#define LOGISTIC_DEFAULT_THREADS	2

typedef struct LogisticOptions
{
	double		C;				/* inverse penalty strength, > 0 (may be
								 * +Infinity: no penalty) */
	bool		fit_intercept;
	int			max_iter;		/* L-BFGS iterations, >= 0 */
	double		tol;			/* gradient tolerance, >= 0 */
	int			threads;		/* for the passes over the rows on large
								 * inputs; results do not depend on it */
} LogisticOptions;

typedef struct LogisticModel
{
	int			p;				/* features */
	int			nclasses;
	int			nsets;			/* 1 if binary else nclasses */
	double	   *coef;			/* nsets x p, row-major */
	double	   *intercept;		/* nsets; zeros without fit_intercept */
	int			n_iter;			/* L-BFGS iterations done */
	bool		converged;
	double		final_loss;		/* f above at the solution: sum of the
								 * per-row log-losses + ||W||^2 / (2C) */
} LogisticModel;

/*
 * Fill opts with sklearn's defaults (C = 1, intercept, max_iter = 100,
 * tol = 1e-4) and LOGISTIC_DEFAULT_THREADS threads.
 */
extern void LogisticDefaultOptions(LogisticOptions *opts);

/*
 * Fit on n rows: X is n x p, column-major (leading dimension n), y holds
 * classes 0..nclasses-1 and every class must occur.  model's arrays are
 * palloc'd in the current memory context.  Besides X, the fit allocates
 * about 16 * n * nsets bytes (the linear predictor and the search
 * direction's image, kept so that line-search trials do not re-read X).
 * ERROR on invalid options or classes, fewer than two classes present,
 * and non-finite features.
 */
extern void LogisticFit(const double *X, int64 n, int p, const int *y,
						int nclasses, const LogisticOptions *opts,
						LogisticModel *model);

/* Class probabilities of one row x (p values) into proba (nclasses). */
extern void LogisticPredictProba(const LogisticModel *model, const double *x,
								 double *proba);

/*
 * The predicted class of one row: the class of largest decision value,
 * the first one on ties (sklearn's predict).
 */
extern int	LogisticPredictClass(const LogisticModel *model, const double *x);

/*
 * Decision values of rows rows of X (column-major, p columns, leading
 * dimension ld) into Z (rows x nsets, column-major): the intercept plus the
 * coefficients times the row, by one BLAS-3 call.
 */
extern void LogisticDecisionMany(const LogisticModel *model, const double *X, int64 ld,
								 int rows, double *Z);

/*
 * Class probabilities of n rows (X n x p column-major, leading dimension
 * n) into proba (n x nclasses, row-major), by blocks of BLAS-3 work.
 */
extern void LogisticPredictProbaMany(const LogisticModel *model,
									 const double *X, int64 n,
									 double *proba);

/*
 * f and its gradient at theta, computed by the same code as the fit (for
 * tests and diagnostics).  theta and grad are laid out as coef followed
 * by the intercepts: nsets * p (+ nsets with fit_intercept) values, nsets
 * being 1 if nclasses == 2 else nclasses.  Only opts->C and
 * opts->fit_intercept are used.  Returns f.
 */
extern double LogisticObjective(const double *X, int64 n, int p, const int *y,
								int nclasses, const LogisticOptions *opts,
								const double *theta, double *grad);

#endif							/* AIF_LOGISTIC_H */

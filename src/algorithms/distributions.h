/*-------------------------------------------------------------------------
 *
 * distributions.h
 *	  Cumulative distribution functions used for p-values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_DISTRIBUTIONS_H
#define AIF_DISTRIBUTIONS_H

/* Regularized incomplete beta I_x(a, b). */
extern double IncompleteBeta(double a, double b, double x);

/* Student's t with df degrees of freedom: P(T <= t). */
extern double StudentTCdf(double t, double df);

/* Two-sided p-value of a t statistic. */
extern double StudentTTwoSidedP(double t, double df);

/* Standard normal CDF. */
extern double NormalCdf(double z);

#endif							/* AIF_DISTRIBUTIONS_H */

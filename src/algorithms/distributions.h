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

/*
 * Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a),
 * a > 0, x >= 0.
 */
extern double UpperIncompleteGamma(double a, double x);

/* Chi-square survival function P(X > x) with df degrees of freedom. */
extern double ChiSquareSf(double x, double df);

/*
 * One-sided Kolmogorov-Smirnov (Smirnov) survival function P(D+_n >= d),
 * the exact Birnbaum-Tingey sum; scipy.special.smirnov(n, d).
 */
extern double SmirnovSf(int64 n, double d);

/*
 * Survival function of the two-sided one-sample Kolmogorov-Smirnov
 * statistic D_n, P(D_n >= d): scipy.stats.kstwo.sf(d, n), computed by the
 * same choice of methods as scipy 1.10 (Simard and L'Ecuyer 2011).
 */
extern double KolmogorovSf(int64 n, double d);

#endif							/* AIF_DISTRIBUTIONS_H */

/*-------------------------------------------------------------------------
 *
 * distributions.c
 *	  Cumulative distribution functions used for p-values.
 *
 * Student's t reduces to the regularized incomplete beta function, which
 * is evaluated by its continued fraction (DLMF 8.17.22) with the modified
 * Lentz algorithm.  The fraction converges quickly only for
 * x < (a + 1) / (a + b + 2); beyond that I_x(a, b) = 1 - I_{1-x}(b, a) is
 * used.  Both x and 1 - x are carried separately so that a tail near
 * x = 1 (large t statistics with many degrees of freedom) does not lose
 * its digits to 1 - x cancellation.  The prefactor's log-beta uses
 * Stirling series differences for large arguments, where
 * lgamma(a) + lgamma(b) - lgamma(a + b) would cancel.
 *
 * Near the switch point with a large a, the fraction's leading terms
 * nearly cancel (1 + d1 with d1 ~ -1), costing about eps * a / (a y)
 * relative: for Student's t, eps * df / t^2 -- 4e-11 at df = 1e6, t = 2.
 * Regression on a million rows lives exactly there, so for df >= 1000
 * and t^2 <= df / 10 the t tail uses Hill's normalizing expansion
 * (G. W. Hill, Algorithm 395, CACM 13(10), 1970) instead, whose error
 * falls like df^-3; the split keeps both methods where they are accurate
 * to ~1e-13 relative (checked against __float128 in test/unit).
 *
 * Out-of-domain arguments give NaN, never an error: a p-value is
 * decoration on a fitted model and must not make the fit fail.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/distributions.h"

/* Relative step at which the continued fraction is considered converged. */
#define BETA_CF_EPS		1e-15
/* Lentz's guard against a zero denominator. */
#define BETA_CF_TINY	1e-300

/* Where Student's t switches from the continued fraction to Hill's series. */
#define T_HILL_MIN_DF	1000.0
#define T_HILL_MAX_T2_DF 0.1		/* ... as long as t^2 <= 0.1 df */

/*
 * Degrees of freedom beyond which Student's t is the normal distribution
 * to double precision (the difference is ~ 1/df relative).
 */
#define T_NORMAL_DF		1e20

#define LOG_SQRT_2PI	0.91893853320467274178	/* log(sqrt(2 pi)) */

static double StudentTHill(double t2, double df);
static double StirlingCorrection(double x);
static double LogBeta(double a, double b);
static double IncBetaFraction(double a, double b, double x, double y);
static double IncBeta(double a, double b, double x, double y);


double
IncompleteBeta(double a, double b, double x)
{
	if (isnan(a) || isnan(b) || isnan(x) || !(a > 0) || !(b > 0))
		return NAN;
	if (x <= 0)
		return 0.0;
	if (x >= 1)
		return 1.0;
	return IncBeta(a, b, x, 1.0 - x);
}

/*
 * Two-sided p-value P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2).  The
 * complement t^2/(df+t^2) is computed directly rather than as 1 - x.
 */
double
StudentTTwoSidedP(double t, double df)
{
	double		t2;
	double		x;
	double		y;

	if (isnan(t) || isnan(df) || !(df > 0))
		return NAN;
	if (isinf(t))
		return 0.0;
	if (t == 0)
		return 1.0;
	if (df > T_NORMAL_DF)
		return erfc(fabs(t) * M_SQRT1_2);
	t2 = t * t;
	if (isinf(t2))
		return 0.0;
	if (df >= T_HILL_MIN_DF && t2 <= T_HILL_MAX_T2_DF * df)
		return StudentTHill(t2, df);
	x = df / (df + t2);
	y = t2 / (df + t2);
	return IncBeta(df / 2.0, 0.5, x, y);
}

double
StudentTCdf(double t, double df)
{
	double		p;

	if (isnan(t) || isnan(df) || !(df > 0))
		return NAN;
	if (t == 0)
		return 0.5;
	p = StudentTTwoSidedP(t, df) / 2.0;
	return t < 0 ? p : 1.0 - p;
}

/* Through erfc, so the lower tail keeps its relative accuracy. */
double
NormalCdf(double z)
{
	if (isnan(z))
		return NAN;
	return 0.5 * erfc(-z * M_SQRT1_2);
}


/*
 * Hill's expansion: with a = df - 1/2 and w^2 = a log(1 + t^2/df), the
 * statistic
 *	 z = w (1 + (w^2 + 3) / b
 *			- (4 w^6 + 33 w^4 + 240 w^2 + 855) / (10 b (b + 0.8 w^4 + 100)))
 * with b = 48 a^2 is standard normal up to O(df^-3), so P(|T| > t) =
 * erfc(z / sqrt 2).  Written in Horner form over w^2.
 */
static double
StudentTHill(double t2, double df)
{
	double		a = df - 0.5;
	double		b = 48.0 * a * a;
	double		w2 = a * log1p(t2 / df);
	double		z;

	z = (((((-0.4 * w2 - 3.3) * w2 - 24.0) * w2 - 85.5) /
		  (0.8 * w2 * w2 + 100.0 + b) + w2 + 3.0) / b + 1.0) * sqrt(w2);
	return erfc(z * M_SQRT1_2);
}

/*
 * lgamma(x) - ((x - 1/2) log x - x + log sqrt(2 pi)) for x >= 10, by the
 * Stirling series; the first omitted term is below 3e-17 at x = 10.
 */
static double
StirlingCorrection(double x)
{
	double		r = 1.0 / x;
	double		r2 = r * r;

	return r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680 +
			r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156)))))));
}

/*
 * log B(a, b).  When an argument is large the three lgamma values are
 * large and nearly cancel; writing their difference through Stirling's
 * formula leaves only terms of the size of the result.
 */
static double
LogBeta(double a, double b)
{
	double		p = Min(a, b);
	double		q = Max(a, b);
	double		ratio = p / (p + q);

	if (p >= 10)
		return LOG_SQRT_2PI - 0.5 * log(q)
			+ StirlingCorrection(p) + StirlingCorrection(q) - StirlingCorrection(p + q)
			+ (p - 0.5) * log(ratio) + q * log1p(-ratio);
	if (q >= 10)
		return lgamma(p)
			+ StirlingCorrection(q) - StirlingCorrection(p + q)
			+ p - p * log(p + q) + (q - 0.5) * log1p(-ratio);
	return lgamma(p) + lgamma(q) - lgamma(p + q);
}

/*
 * I_x(a, b) for x below the switch point, y = 1 - x:
 *
 *	 I_x(a, b) = x^a y^b / (a B(a, b)) / (1 + d1 / (1 + d2 / (1 + ...)))
 *	 d(2m+1) = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
 *	 d(2m)	 = m (b - m) x / ((a + 2m - 1)(a + 2m))
 *
 * evaluated forward by the modified Lentz method.  Convergence takes
 * O(sqrt(max(a, b))) terms; the cap leaves ample room for that.
 */
static double
IncBetaFraction(double a, double b, double x, double y)
{
	double		logx = x < 0.5 ? log(x) : log1p(-y);
	double		logy = y < 0.5 ? log(y) : log1p(-x);
	double		front;
	double		f = 1.0;
	double		c = 1.0;
	double		dd = 0.0;
	double		maxit = 1000.0 + 20.0 * sqrt(Max(a, b));
	int			step;

	front = exp(a * logx + b * logy - LogBeta(a, b)) / a;
	if (front == 0)
		return 0.0;

	for (step = 1; step <= maxit; step++)
	{
		int			m = step / 2;
		double		num;
		double		delta;

		if (step % 2 == 1)
			num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
		else
			num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));

		dd = 1.0 + num * dd;
		if (fabs(dd) < BETA_CF_TINY)
			dd = BETA_CF_TINY;
		dd = 1.0 / dd;
		c = 1.0 + num / c;
		if (fabs(c) < BETA_CF_TINY)
			c = BETA_CF_TINY;
		delta = c * dd;
		f *= delta;
		if (fabs(delta - 1.0) < BETA_CF_EPS)
			return front / f;
	}
	return NAN;
}

/* I_x(a, b) with y = 1 - x given exactly; 0 < x < 1, a, b > 0. */
static double
IncBeta(double a, double b, double x, double y)
{
	if (x <= 0)
		return 0.0;
	if (y <= 0)
		return 1.0;
	if (x > (a + 1) / (a + b + 2))
		return 1.0 - IncBetaFraction(b, a, y, x);
	return IncBetaFraction(a, b, x, y);
}

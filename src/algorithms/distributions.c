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


/*
 * Chi-square and Kolmogorov-Smirnov distributions, for the drift tests
 * (drift.c).  They follow scipy 1.10, since drift() promises scipy's
 * numbers: chi2.sf is cephes' igamc, and kstwo.sf picks among exact and
 * asymptotic methods by (n, d) exactly as scipy.stats._ksstats._kolmogn
 * does, so that the two agree to ~1e-10 rather than merely both being
 * "accurate" in different ways.
 */

/* Relative step at which a series or continued fraction has converged. */
#define GAMMA_EPS		1e-16
#define GAMMA_MAXIT		100000

/*
 * Q(a, x): the series for P(a, x) below x = a + 1, where it converges
 * fast and Q is not small; the Legendre continued fraction for Q above,
 * where Q may be tiny and must not come from 1 - P.
 */
double
UpperIncompleteGamma(double a, double x)
{
	double		logfront;
	int			i;

	if (isnan(a) || isnan(x) || !(a > 0) || x < 0)
		return NAN;
	if (x == 0)
		return 1.0;
	if (isinf(x))
		return 0.0;
	logfront = a * log(x) - x - lgamma(a);
	if (x < a + 1.0)
	{
		double		ap = a;
		double		term = 1.0 / a;
		double		sum = term;

		for (i = 0; i < GAMMA_MAXIT; i++)
		{
			ap += 1.0;
			term *= x / ap;
			sum += term;
			if (fabs(term) < fabs(sum) * GAMMA_EPS)
				break;
		}
		return 1.0 - sum * exp(logfront);
	}
	else
	{
		double		b = x + 1.0 - a;
		double		c = 1.0 / BETA_CF_TINY;
		double		d = 1.0 / b;
		double		h = d;

		for (i = 1; i < GAMMA_MAXIT; i++)
		{
			double		an = -i * (i - a);
			double		del;

			b += 2.0;
			d = an * d + b;
			if (fabs(d) < BETA_CF_TINY)
				d = BETA_CF_TINY;
			c = b + an / c;
			if (fabs(c) < BETA_CF_TINY)
				c = BETA_CF_TINY;
			d = 1.0 / d;
			del = d * c;
			h *= del;
			if (fabs(del - 1.0) < GAMMA_EPS)
				break;
		}
		return exp(logfront) * h;
	}
}

/* scipy.stats.chi2.sf: NaN for df <= 0, as scipy gives. */
double
ChiSquareSf(double x, double df)
{
	if (isnan(x) || isnan(df) || !(df > 0))
		return NAN;
	if (x <= 0)
		return 1.0;
	return UpperIncompleteGamma(df / 2.0, x / 2.0);
}

/*
 * P(D+_n >= d) = d sum_{j=0}^{floor(n(1-d))} C(n, j) (d + j/n)^(j-1)
 *				  (1 - d - j/n)^(n-j)
 * (Smirnov 1944; Birnbaum and Tingey 1951).  Every term is positive, so
 * summing them in long double logarithms loses nothing to cancellation;
 * the terms rise to one peak and then fall, and the sum stops once they
 * are below 1e-20 of it past the peak, which keeps large n cheap.
 */
double
SmirnovSf(int64 n, double d)
{
	long double nn = (long double) n;
	long double lgn1;
	long double sum = 0;
	long double peak = 0;
	int64		jmax;
	int64		j;

	if (isnan(d) || n <= 0)
		return NAN;
	if (d <= 0)
		return 1.0;
	if (d >= 1)
		return 0.0;
	lgn1 = lgammal(nn + 1);
	jmax = (int64) floorl(nn * (1.0L - d));
	for (j = 0; j <= jmax; j++)
	{
		long double e = d + j / nn;
		long double ome = 1.0L - e;
		long double term;

		if (ome <= 0)
			break;
		term = expl(lgn1 - lgammal(j + 1.0L) - lgammal(nn - j + 1.0L)
					+ (j - 1) * logl(e) + (nn - j) * logl(ome));
		sum += term;
		if (term > peak)
			peak = term;
		else if (term < sum * 1e-20L)
			break;
	}
	return (double) Min(sum * d, 1.0L);
}

#define KS_E128			128

/* log(n! / n^n) by Stirling's series, as scipy's _log_nfactorial_div_n_pow_n. */
static double
LogNFactorialDivNPowN(double n)
{
	static const double c[] = {-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
	-2.7777777777777777778e-3, 8.3333333333333333333e-2};
	double		rn = 1.0 / n;
	double		x = rn / n;
	double		poly = 0;
	int			i;

	for (i = 0; i < (int) lengthof(c); i++)
		poly = poly * x + c[i];
	return log(n) / 2 - n + log(2 * M_PI) / 2 + rn * poly;
}

/* C = A B for m x m row-major matrices. */
static void
SquareMatMul(const double *A, const double *B, double *C, int m)
{
	int			i;
	int			j;
	int			l;

	for (i = 0; i < m; i++)
	{
		for (j = 0; j < m; j++)
			C[i * m + j] = 0;
		for (l = 0; l < m; l++)
		{
			double		a = A[i * m + l];

			if (a == 0)
				continue;
			for (j = 0; j < m; j++)
				C[i * m + j] += a * B[l * m + j];
		}
	}
}

/*
 * P(D_n <= d) by Durbin's matrix (Marsaglia, Tsang and Wang 2003), as
 * scipy's _kolmogn_DMTW: the k-th diagonal entry of H^n times n!/n^n,
 * with H an m x m matrix, m = 2 ceil(nd) - 1, raised by squaring and
 * rescaled by 2^128 to stay in range.  Exact up to rounding; scipy uses
 * it where m stays small.
 */
static double
KolmogorovDurbinCdf(int64 n, double d)
{
	double		nd = n * d;
	int			k;
	double		h;
	int			m;
	double	   *H;
	double	   *P;
	double	   *T;
	double	   *v;
	double	   *w;
	double		fac = 1.0;
	double		tt;
	int64		nn = n;
	int64		expnt = 0;
	int64		hexpnt = 0;
	long double p;
	int			i;
	int			j;

	if (d >= 1.0)
		return 1.0;
	if (nd <= 0.5)
		return 0.0;
	k = (int) ceil(nd);
	h = k - nd;
	m = 2 * k - 1;
	H = palloc0(sizeof(double) * m * m);
	P = palloc0(sizeof(double) * m * m);
	T = palloc(sizeof(double) * m * m);
	v = palloc(sizeof(double) * m);
	w = palloc(sizeof(double) * m);

	for (j = 1; j <= m; j++)
	{
		v[j - 1] = 1.0 - pow(h, j);
		w[j - 1] = fac;
		fac /= j;
		v[j - 1] *= fac;
	}
	tt = pow(Max(2 * h - 1.0, 0), m) - 2 * pow(h, m);
	v[m - 1] = (1.0 + tt) * fac;
	for (i = 1; i < m; i++)
		for (j = i - 1; j < m; j++)
			H[j * m + i] = w[j - (i - 1)];
	for (j = 0; j < m; j++)
		H[j * m] = v[j];
	for (j = 0; j < m; j++)
		H[(m - 1) * m + j] = v[m - 1 - j];
	for (i = 0; i < m; i++)
		P[i * m + i] = 1.0;

	while (nn > 0)
	{
		double	   *swap;

		if (nn % 2)
		{
			SquareMatMul(P, H, T, m);
			swap = P;
			P = T;
			T = swap;
			expnt += hexpnt;
		}
		SquareMatMul(H, H, T, m);
		swap = H;
		H = T;
		T = swap;
		hexpnt *= 2;
		if (fabs(H[(k - 1) * m + (k - 1)]) > ldexp(1.0, KS_E128))
		{
			for (i = 0; i < m * m; i++)
				H[i] = ldexp(H[i], -KS_E128);
			hexpnt += KS_E128;
		}
		nn /= 2;
	}
	p = P[(k - 1) * m + (k - 1)];
	for (nn = 1; nn <= n; nn++)
	{
		p = nn * p / n;
		if (fabsl(p) < ldexpl(1.0L, -KS_E128))
		{
			p = ldexpl(p, KS_E128);
			expnt -= KS_E128;
		}
	}
	if (expnt != 0)
		p = ldexpl(p, (int) expnt);
	pfree(H);
	pfree(P);
	pfree(T);
	pfree(v);
	pfree(w);
	return (double) p;
}

/*
 * The Pelz-Good (1976) asymptotic series for P(D_n <= x), transcribed
 * from scipy's _kolmogn_PelzGood, which uses it for n > 140 outside the
 * region where the matrix method is cheap.
 */
static double
KolmogorovPelzGoodCdf(double n, double x)
{
	const double pi2 = M_PI * M_PI;
	const double pi4 = pi2 * pi2;
	const double pi6 = pi4 * pi2;
	const double sqrt2pi = sqrt(2 * M_PI);
	double		z;
	double		z2;
	double		z3;
	double		z4;
	double		z6;
	double		qlog;
	double		q;
	double		k1a,
				k1b,
				k2a,
				k2b,
				k2c,
				k3a,
				k3b,
				k3c,
				k3d;
	double		K[4] = {0, 0, 0, 0};
	double		k2extra = 0;
	double		k3extra = 0;
	double		sqrt3z;
	int			maxk;
	int			kk;
	int			i;

	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	z = sqrt(n) * x;
	z2 = z * z;
	z3 = z2 * z;
	z4 = z2 * z2;
	z6 = z4 * z2;
	qlog = -pi2 / 8 / z2;
	if (qlog < -708)
		return 0.0;
	q = exp(qlog);

	k1a = -z2;
	k1b = pi2 / 4;
	k2a = 6 * z6 + 2 * z4;
	k2b = (2 * z4 - 5 * z2) * pi2 / 4;
	k2c = pi4 * (1 - 2 * z2) / 16;
	k3d = pi6 * (5 - 30 * z2) / 64;
	k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
	k3b = pi2 * (135 * z4 - 96 * z6) / 4;
	k3a = -30 * z6 - 90 * pow(z, 8);

	maxk = (int) ceil(16 * z / M_PI);
	for (kk = maxk; kk > 0; kk--)
	{
		double		m = 2 * kk - 1;
		double		m2 = m * m;
		double		m4 = m2 * m2;
		double		m6 = m4 * m2;
		double		qp = pow(q, 8 * kk);

		K[0] = K[0] * qp + 1.0;
		K[1] = K[1] * qp + (k1a + k1b * m2);
		K[2] = K[2] * qp + (k2a + k2b * m2 + k2c * m4);
		K[3] = K[3] * qp + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
	}
	for (i = 0; i < 4; i++)
		K[i] *= q * sqrt2pi;
	K[0] /= z;
	K[1] /= 6 * z4;
	K[2] /= 72 * pow(z, 7);
	K[3] /= 6480 * pow(z, 10);

	q = exp(-pi2 / 2 / z2);
	sqrt3z = sqrt(3.0) * z;
	for (kk = maxk; kk > 0; kk--)
	{
		double		k2 = (double) kk * kk;
		double		kpi = M_PI * kk;
		double		qk = pow(q, k2);

		k2extra += k2 * qk;
		k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qk;
	}
	K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
	K[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
	K[1] /= sqrt(n);
	K[2] /= n;
	K[3] /= n * sqrt(n);
	return K[0] + K[1] + K[2] + K[3];
}

static double
ClipProb(double p)
{
	if (p < 0)
		return 0.0;
	if (p > 1)
		return 1.0;
	return p;
}

/*
 * kstwo.sf(d, n), branch for branch as scipy's _kolmogn(n, d, cdf=False).
 * One difference: for n <= 140 and 0.754693 < n d^2 <= 4 scipy uses
 * Pomeranz's recursion and this uses Durbin's matrix; both are exact
 * algorithms, and they agree to rounding.
 */
double
KolmogorovSf(int64 n, double x)
{
	double		t;
	double		nx2;
	double		cdf;

	if (isnan(x) || n <= 0)
		return NAN;
	if (x >= 1.0)
		return 0.0;
	if (x <= 0.0)
		return 1.0;
	t = n * x;
	if (t <= 1.0)
	{
		double		prob;

		if (t <= 0.5)
			return 1.0;
		if (n <= 140)
		{
			int64		i;

			prob = 1.0;
			for (i = 1; i <= n; i++)
				prob *= i * (1.0 / n) * (2 * t - 1);
		}
		else
			prob = exp(LogNFactorialDivNPowN((double) n) + n * log(2 * t - 1));
		return ClipProb(1.0 - prob);
	}
	if (t >= n - 1)
		return ClipProb(2 * pow(1.0 - x, (double) n));
	if (x >= 0.5)
		return ClipProb(2 * SmirnovSf(n, x));

	nx2 = t * x;
	if (n <= 140)
	{
		if (nx2 <= 4)
			return ClipProb(1.0 - ClipProb(KolmogorovDurbinCdf(n, x)));
		return ClipProb(2 * SmirnovSf(n, x));
	}
	if (nx2 >= 370.0)
		return 0.0;
	if (nx2 >= 2.2)
		return ClipProb(2 * SmirnovSf(n, x));
	if (nx2 >= 18.0)
		cdf = 1.0;
	else if (n <= 100000 && n * pow(x, 1.5) <= 1.4)
		cdf = KolmogorovDurbinCdf(n, x);
	else
		cdf = KolmogorovPelzGoodCdf((double) n, x);
	return ClipProb(1.0 - ClipProb(cdf));
}

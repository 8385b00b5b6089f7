/*-------------------------------------------------------------------------
 *
 * test_distributions.c
 *	  Unit tests of src/algorithms/distributions.c against closed forms:
 *	  I_x(1,1) = x, I_x(a,1) = x^a, I_x(1,b) = 1 - (1-x)^b,
 *	  I_x(1/2,1/2) = (2/pi) asin(sqrt x), integer a, b through the binomial
 *	  tail, and Student's t for 1, 2, 5 and 10 degrees of freedom by
 *	  Abramowitz & Stegun 26.7.3/26.7.4 -- all evaluated in long double;
 *	  and for large degrees of freedom against __float128 references.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <quadmath.h>
#include <stdio.h>

#include "algorithms/distributions.h"
#include "tap.h"

static double
RelErr(double got, long double want)
{
	if (isnan(got))
		return INFINITY;
	if (want == 0)
		return fabs(got);
	return (double) fabsl((got - want) / want);
}

/* I_x(a, b) for integer a, b: P(Binomial(a + b - 1, x) >= a) */
static long double
BinomialTail(int a, int b, long double x)
{
	int			n = a + b - 1;
	long double sum = 0;
	int			j;

	for (j = a; j <= n; j++)
		sum += expl(lgammal(n + 1) - lgammal(j + 1) - lgammal(n - j + 1)
					+ j * logl(x) + (n - j) * log1pl(-x));
	return sum;
}

/*
 * P(|T| >= t) with nu degrees of freedom, A&S 26.7.3 (nu even) and 26.7.4
 * (nu odd), theta = atan(t / sqrt(nu)).  The even series gives P(|T| < t)
 * and so loses relative accuracy in the far tail; the tests stay where
 * the two-sided p is above ~1e-6.
 */
static long double
StudentTwoSidedRef(long double t, int nu)
{
	long double th = atanl(fabsl(t) / sqrtl(nu));
	long double s = sinl(th),
				c = cosl(th);
	long double term,
				sum;
	int			i;

	if (nu % 2 == 0)
	{
		term = 1;
		sum = 1;
		for (i = 2; i <= nu - 2; i += 2)
		{
			term *= c * c * (i - 1) / i;
			sum += term;
		}
		return 1 - s * sum;
	}
	if (nu == 1)
		return 1 - 2 * th / acosl(-1);
	term = c;
	sum = c;
	for (i = 3; i <= nu - 2; i += 2)
	{
		term *= c * c * (i - 1) / i;
		sum += term;
	}
	return 1 - 2 / acosl(-1) * (th + s * sum);
}

/*
 * I_x(a, b) in __float128 by the same continued fraction as the code under
 * test; its cancellation near the switch point costs ~1e-34 * df, which
 * at df <= 1e8 leaves ~1e-26.  The fraction's terms are validated
 * independently by the closed forms above; this checks the double
 * evaluation, not the mathematics.
 */
static __float128
QuadIncBeta(__float128 a, __float128 b, __float128 x, __float128 y)
{
	__float128	f = 1,
				c = 1,
				dd = 0;
	__float128	front;
	long		step;

	if (x > (a + 1) / (a + b + 2))
		return 1 - QuadIncBeta(b, a, y, x);
	front = expq(a * logq(x) + b * logq(y) - (lgammaq(a) + lgammaq(b) - lgammaq(a + b))) / a;
	for (step = 1; step < 100000000; step++)
	{
		long		m = step / 2;
		__float128	num;
		__float128	delta;

		if (step % 2)
			num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
		else
			num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
		dd = 1 / (1 + num * dd);
		c = 1 + num / c;
		delta = c * dd;
		f *= delta;
		if (fabsq(delta - 1) < 1e-33Q)
			break;
	}
	return front / f;
}

static __float128
QuadTwoSidedP(double t, double nu)
{
	__float128	t2 = (__float128) t * t;

	return QuadIncBeta((__float128) nu / 2, 0.5Q, nu / (nu + t2), t2 / (nu + t2));
}

/*
 * An independent reference: p = 1 - I_y(1/2, nu/2), y = t^2/(nu + t^2),
 * by the hypergeometric series I_y(a, b) = y^a / B(a, b) *
 * sum_n (1 - b)_n y^n / (n! (a + n)).  Its terms alternate with size up to
 * e^(t^2/2), so it is used for t <= 5 only.
 */
static __float128
QuadSeriesTwoSidedP(double t, double nu)
{
	__float128	t2 = (__float128) t * t;
	__float128	y = t2 / (nu + t2);
	__float128	a = 0.5Q;
	__float128	b = (__float128) nu / 2;
	__float128	term = 1;
	__float128	sum = 0;
	int			n;

	for (n = 0; n < 100000; n++)
	{
		__float128	add = term / (a + n);

		sum += add;
		if (n > 10 && fabsq(add) < 1e-40Q * fabsq(sum))
			break;
		term *= (1 - b + n) * y / (n + 1);
	}
	return 1 - expq(a * logq(y) - (lgammaq(a) + lgammaq(b) - lgammaq(a + b))) * sum;
}

int
main(void)
{
	double		worst;
	double		xs[] = {1e-8, 0.01, 0.2, 0.5, 0.7, 0.99, 1 - 1e-9};
	int			i,
				j;

	/* the values quoted in the interface brief */
	tap_ok(fabs(StudentTTwoSidedP(2.0, 10) - 0.0733880347707404) < 1e-13,
		   "StudentTTwoSidedP(2, 10) = 0.07338803477074 (got %.15f)",
		   StudentTTwoSidedP(2.0, 10));
	{
		double		p = StudentTTwoSidedP(1.96, 1e6);
		double		normal = erfc(1.96 / sqrt(2.0));

		tap_ok(fabs(p - 0.05) < 1e-4 && p > normal && p - normal < 1e-6,
			   "StudentTTwoSidedP(1.96, 1e6) = %.10f: ~0.0500, just above the normal's %.10f",
			   p, normal);
	}
	tap_ok(StudentTTwoSidedP(0, 5) == 1.0, "StudentTTwoSidedP(0, 5) = 1");
	tap_ok(RelErr(NormalCdf(1.96), 0.9750021048517795L) < 1e-15,
		   "NormalCdf(1.96) = 0.9750021048517795 (got %.16f)", NormalCdf(1.96));
	tap_ok(RelErr(NormalCdf(-10), 7.619853024160526e-24L) < 1e-13 && NormalCdf(0) == 0.5,
		   "NormalCdf(-10) = 7.6198530241605e-24 (relative accuracy in the tail), NormalCdf(0) = 0.5");

	/* incomplete beta: closed forms on both sides of the symmetry switch */
	worst = 0;
	for (i = 0; i < (int) lengthof(xs); i++)
	{
		long double x = xs[i];

		worst = fmax(worst, RelErr(IncompleteBeta(1, 1, xs[i]), x));
		worst = fmax(worst, RelErr(IncompleteBeta(3.5, 1, xs[i]), powl(x, 3.5L)));
		worst = fmax(worst, RelErr(IncompleteBeta(1, 2.5, xs[i]), -expm1l(2.5L * log1pl(-x))));
		worst = fmax(worst, RelErr(IncompleteBeta(0.5, 0.5, xs[i]),
								   2 * asinl(sqrtl(x)) / acosl(-1)));
	}
	tap_ok(worst < 1e-13, "I_x(1,1) = x, I_x(3.5,1) = x^3.5, I_x(1,2.5) = 1-(1-x)^2.5, "
		   "I_x(1/2,1/2) = 2 asin(sqrt x)/pi (max rel err %.1e)", worst);

	worst = 0;
	{
		int			ab[][2] = {{5, 7}, {7, 5}, {2, 30}, {30, 2}, {50, 60}, {200, 180}};

		for (i = 0; i < (int) lengthof(ab); i++)
			for (j = 1; j < 10; j++)
			{
				double		x = j / 10.0;
				long double want = BinomialTail(ab[i][0], ab[i][1], x);

				if (want > 1e-250)
					worst = fmax(worst, RelErr(IncompleteBeta(ab[i][0], ab[i][1], x), want));
			}
	}
	tap_ok(worst < 1e-11, "I_x(a,b) for integer a, b up to 200 = binomial tail (max rel err %.1e)",
		   worst);

	worst = 0;
	for (i = 1; i < 40; i++)
	{
		double		a = 0.3 * i,
					b = 7.0 / i,
					x = fmod(0.37 * i, 1.0);

		worst = fmax(worst, fabs(IncompleteBeta(a, b, x) + IncompleteBeta(b, a, 1 - x) - 1));
	}
	tap_ok(worst < 1e-14 && IncompleteBeta(2, 3, 0) == 0 && IncompleteBeta(2, 3, 1) == 1 &&
		   fabs(IncompleteBeta(40, 40, 0.5) - 0.5) < 1e-15,
		   "I_x(a,b) + I_{1-x}(b,a) = 1 (max dev %.1e), endpoints, I_1/2(a,a) = 1/2", worst);

	/* Student's t against A&S closed forms */
	{
		int			nus[] = {1, 2, 5, 10};
		double		ts[] = {0.01, 0.5, 1.0, 2.0, 3.5, 8.0};

		worst = 0;
		for (i = 0; i < (int) lengthof(nus); i++)
			for (j = 0; j < (int) lengthof(ts); j++)
			{
				long double want = StudentTwoSidedRef(ts[j], nus[i]);

				worst = fmax(worst, RelErr(StudentTTwoSidedP(ts[j], nus[i]), want));
				worst = fmax(worst, RelErr(StudentTTwoSidedP(-ts[j], nus[i]), want));
				worst = fmax(worst, RelErr(StudentTCdf(-ts[j], nus[i]), want / 2));
				worst = fmax(worst, RelErr(StudentTCdf(ts[j], nus[i]), 1 - want / 2));
			}
		tap_ok(worst < 1e-12, "Student t, df 1, 2, 5, 10: two-sided p and CDF match "
			   "A&S 26.7.3/4 (max rel err %.1e)", worst);
	}

	/* far tails keep relative accuracy: df 1 and 2 have tail-safe forms */
	{
		double		e1 = RelErr(StudentTTwoSidedP(1e6, 1), 2 * atanl(1e-6L) / acosl(-1));
		long double r = sqrtl(2 + 1e6L);
		double		e2 = RelErr(StudentTTwoSidedP(1e3, 2), 2 / ((r + 1e3L) * r));

		tap_ok(e1 < 1e-12 && e2 < 1e-12,
			   "far tail: P(|T| > 1e6; df 1) and P(|T| > 1e3; df 2) to 1e-12 (%.1e, %.1e)",
			   e1, e2);
	}

	/* many degrees of freedom: the regime of p-values on large tables */
	{
		double		nus[] = {30, 300, 999, 1000, 3000, 1e4, 1e5, 1e6, 1e7, 1e8};
		double		ts[] = {0.01, 0.5, 1, 1.7, 2, 3, 5, 7, 10, 10.001, 15, 20, 30};
		double		worst_series = 0;

		worst = 0;
		for (i = 0; i < (int) lengthof(nus); i++)
			for (j = 0; j < (int) lengthof(ts); j++)
			{
				double		p = StudentTTwoSidedP(ts[j], nus[i]);

				worst = fmax(worst, RelErr(p, (long double) QuadTwoSidedP(ts[j], nus[i])));
				if (ts[j] <= 5)
					worst_series = fmax(worst_series,
										RelErr(p, (long double) QuadSeriesTwoSidedP(ts[j], nus[i])));
			}
		tap_ok(worst < 1e-12 && worst_series < 1e-12,
			   "Student t, df 30 .. 1e8, t 0.01 .. 30: two-sided p to 1e-12 of __float128 "
			   "references (max rel err %.1e; %.1e against the series)", worst, worst_series);
	}
	{
		double		p13 = StudentTTwoSidedP(3.0, 1e13);
		double		p30 = StudentTTwoSidedP(3.0, 1e30);
		double		normal = erfc(3.0 / sqrt(2.0));

		/* the t tail exceeds the normal by ~ phi(t) (t^3 + t) / (2 df): 2.5e-12 here */
		tap_ok(RelErr(p13, normal) < 5e-12 && p13 > normal && RelErr(p30, normal) < 1e-14,
			   "df 1e13 just above the normal tail (rel diff %.1e), df 1e30 equal to it",
			   RelErr(p13, normal));
	}

	/* domain */
	tap_ok(isnan(StudentTTwoSidedP(NAN, 3)) && isnan(StudentTTwoSidedP(1, 0)) &&
		   isnan(StudentTTwoSidedP(1, -2)) && StudentTTwoSidedP(INFINITY, 3) == 0 &&
		   StudentTCdf(-INFINITY, 3) == 0 && StudentTCdf(INFINITY, 3) == 1 &&
		   StudentTTwoSidedP(1e200, 3) == 0 && RelErr(StudentTTwoSidedP(1, INFINITY), 0.3173105078629141028L) < 1e-15 &&
		   isnan(IncompleteBeta(0, 1, 0.5)) && isnan(IncompleteBeta(1, 1, NAN)) &&
		   isnan(NormalCdf(NAN)) && NormalCdf(-INFINITY) == 0 && NormalCdf(INFINITY) == 1,
		   "out-of-domain arguments give NaN, infinities the limits");

	return tap_done();
}

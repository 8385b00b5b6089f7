/*-------------------------------------------------------------------------
 *
 * doubledouble.h
 *	  Double-double arithmetic (about 106 significant bits) from fma.
 *
 * Used where a difference of nearly equal sums must keep its digits: the
 * residuals of iterative refinement on an ill-conditioned design.  A value
 * is hi + lo with |lo| <= ulp(hi) / 2.  Error-free transformations after
 * Knuth (TwoSum) and Dekker/Ogita-Rump-Oishi (TwoProduct via fma).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_DOUBLEDOUBLE_H
#define AIF_DOUBLEDOUBLE_H

#include <math.h>

typedef struct DD
{
	double		hi;
	double		lo;
} DD;

/* a + b exactly, as s + err */
static inline DD
dd_two_sum(double a, double b)
{
	DD			r;
	double		bb;

	r.hi = a + b;
	bb = r.hi - a;
	r.lo = (a - (r.hi - bb)) + (b - bb);
	return r;
}

/* a * b exactly, as p + err */
static inline DD
dd_two_prod(double a, double b)
{
	DD			r;

	r.hi = a * b;
	r.lo = fma(a, b, -r.hi);
	return r;
}

/* x + (a, exact pair) */
static inline DD
dd_add(DD x, DD y)
{
	DD			s = dd_two_sum(x.hi, y.hi);
	DD			r;

	s.lo += x.lo + y.lo;
	r = dd_two_sum(s.hi, s.lo);
	return r;
}

/* x + a*b with the product exact */
static inline DD
dd_add_prod(DD x, double a, double b)
{
	return dd_add(x, dd_two_prod(a, b));
}

/* x * a for a double-double x and a double a */
static inline DD
dd_mul_d(DD x, double a)
{
	DD			p = dd_two_prod(x.hi, a);

	p.lo += x.lo * a;
	return dd_two_sum(p.hi, p.lo);
}

#endif							/* AIF_DOUBLEDOUBLE_H */

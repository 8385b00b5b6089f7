/*
 * test_splithash.c
 *	  The split hash of a float8 row: both paths (eight values at a time
 *	  with AVX-512 where the CPU has it, one at a time on any CPU) give the
 *	  sum of SplitHashTerm over the row to the bit, -0 and +0 alike, and
 *	  both tell a row with a NaN or an infinity.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "algorithms/splithash.h"
#include "tap.h"

#define MAXN 67

/* the definition, term by term */
static uint64
reference(const uint64 *salts, const double *x, int n)
{
	uint64		sum = 0;

	for (int i = 0; i < n; i++)
		sum += SplitHashTerm(salts[i], SplitHashDoubleWord(x[i]));
	return sum;
}

static uint64
next_salt(TestRng *rng)
{
	return (uint64) (rng_uniform(rng) * 4294967296.0) << 32 |
		(uint64) (rng_uniform(rng) * 4294967296.0);
}

int
main(void)
{
	TestRng		rng;
	uint64		salts[MAXN];
	double		x[MAXN];
	double		y[MAXN];
	int			wrong_fast = 0;
	int			wrong_scalar = 0;
	int			wrong_bad = 0;
	bool		bad;
	bool		bad2;

	rng_seed(&rng, 20261127);
	tap_diag("eight at a time on this CPU: %s", SplitHashSimd() ? "yes" : "no");

	/* every length up to MAXN (all tails of the eight-wide loop), random rows */
	for (int round = 0; round < 2000; round++)
	{
		int			n = round % (MAXN + 1);

		for (int i = 0; i < n; i++)
		{
			double		u = rng_uniform(&rng);

			salts[i] = next_salt(&rng);
			/* some zeros of both signs, tiny and huge values among normal ones */
			x[i] = u < 0.05 ? 0.0 : u < 0.1 ? -0.0 : u < 0.15 ? 1e-310 * (u - 0.12) :
				u < 0.2 ? 1e300 * (u - 0.17) : rng_normal(&rng) * 100;
		}
		if (SplitHashFloat8(salts, x, n, &bad) != reference(salts, x, n))
			wrong_fast++;
		if (SplitHashFloat8Scalar(salts, x, n, &bad2) != reference(salts, x, n))
			wrong_scalar++;
		if (bad || bad2)
			wrong_bad++;
	}
	tap_ok(wrong_fast == 0, "SplitHashFloat8 = the sum of the terms (2000 rows of 0..%d values): %d differ",
		   MAXN, wrong_fast);
	tap_ok(wrong_scalar == 0, "SplitHashFloat8Scalar = the sum of the terms: %d differ", wrong_scalar);
	tap_ok(wrong_bad == 0, "no finite row is called bad (%d were)", wrong_bad);

	/* -0 and +0 are one value */
	for (int i = 0; i < 20; i++)
	{
		salts[i] = next_salt(&rng);
		x[i] = i % 3 == 0 ? 0.0 : i;
		y[i] = i % 3 == 0 ? -0.0 : i;
	}
	tap_ok(SplitHashFloat8(salts, x, 20, &bad) == SplitHashFloat8(salts, y, 20, &bad2),
		   "a row with -0 hashes as the row with +0");
	tap_ok(SplitHashFloat8Scalar(salts, x, 20, &bad) == SplitHashFloat8Scalar(salts, y, 20, &bad2),
		   "... on the scalar path too");

	/* NaN and infinities anywhere, including the last lane of a tail; DBL_MAX is finite */
	{
		const double odd[] = {NAN, INFINITY, -INFINITY};
		int			missed = 0;

		for (int n = 1; n <= 20; n++)
			for (int at = 0; at < n; at++)
				for (int k = 0; k < 3; k++)
				{
					for (int i = 0; i < n; i++)
						x[i] = i == at ? odd[k] : (i % 2 ? DBL_MAX : -DBL_MAX);
					(void) SplitHashFloat8(salts, x, n, &bad);
					(void) SplitHashFloat8Scalar(salts, x, n, &bad2);
					missed += !bad + !bad2;
				}
		tap_ok(missed == 0, "a NaN or an infinity at any position is told (%d missed)", missed);
		for (int i = 0; i < 20; i++)
			x[i] = i % 2 ? DBL_MAX : -DBL_MAX;
		(void) SplitHashFloat8(salts, x, 20, &bad);
		(void) SplitHashFloat8Scalar(salts, x, 20, &bad2);
		tap_ok(!bad && !bad2, "+-DBL_MAX is finite");
	}

	/* values past n are not read into the sum */
	for (int i = 0; i < 16; i++)
	{
		salts[i] = next_salt(&rng);
		x[i] = i < 5 ? i + 0.5 : NAN;
	}
	tap_ok(SplitHashFloat8(salts, x, 5, &bad) == reference(salts, x, 5) && !bad,
		   "a row of 5 ignores what follows it");
	return tap_done();
}

/*-------------------------------------------------------------------------
 *
 * tap.c
 *	  TAP output, PRNG and long-double references shared by the unit tests.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tap.h"

static int	tap_count = 0;
static int	tap_failed = 0;

bool
tap_ok(bool passed, const char *fmt,...)
{
	va_list		ap;

	tap_count++;
	if (!passed)
		tap_failed++;
	printf("%sok %d - ", passed ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return passed;
}

void
tap_diag(const char *fmt,...)
{
	va_list		ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed > 0)
		printf("# %d of %d tests failed\n", tap_failed, tap_count);
	fflush(stdout);
	return tap_failed > 0 ? 1 : 0;
}

void
rng_seed(TestRng *rng, uint64 seed)
{
	rng->s = seed;
}

/* splitmix64: small, fast, and good enough for test data */
static uint64
rng_next(TestRng *rng)
{
	uint64		z = (rng->s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

double
rng_uniform(TestRng *rng)
{
	return (double) (rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Box-Muller; one value per call keeps the stream simple to reason about */
double
rng_normal(TestRng *rng)
{
	double		u1 = rng_uniform(rng);
	double		u2 = rng_uniform(rng);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

double
max_rel_err(const double *a, const double *b, int n, double floor)
{
	double		worst = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		e = fabs(a[i] - b[i]) / fmax(fabs(b[i]), floor);

		if (isnan(e))
			return INFINITY;
		worst = fmax(worst, e);
	}
	return worst;
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Solve M z = rhs in place (M p x p row-major), partial pivoting. */
static void
ref_gauss(int p, long double *M, long double *rhs, int nrhs)
{
	int			i,
				j,
				c,
				r;

	for (c = 0; c < p; c++)
	{
		int			piv = c;

		for (r = c + 1; r < p; r++)
			if (fabsl(M[r * p + c]) > fabsl(M[piv * p + c]))
				piv = r;
		if (piv != c)
		{
			for (j = 0; j < p; j++)
			{
				long double t = M[c * p + j];

				M[c * p + j] = M[piv * p + j];
				M[piv * p + j] = t;
			}
			for (j = 0; j < nrhs; j++)
			{
				long double t = rhs[c * nrhs + j];

				rhs[c * nrhs + j] = rhs[piv * nrhs + j];
				rhs[piv * nrhs + j] = t;
			}
		}
		for (r = c + 1; r < p; r++)
		{
			long double f = M[r * p + c] / M[c * p + c];

			for (j = c; j < p; j++)
				M[r * p + j] -= f * M[c * p + j];
			for (j = 0; j < nrhs; j++)
				rhs[r * nrhs + j] -= f * rhs[c * nrhs + j];
		}
	}
	for (i = p - 1; i >= 0; i--)
		for (j = 0; j < nrhs; j++)
		{
			long double s = rhs[i * nrhs + j];

			for (c = i + 1; c < p; c++)
				s -= M[i * p + c] * rhs[c * nrhs + j];
			rhs[i * nrhs + j] = s / M[i * p + i];
		}
}

void
ref_lsq(int n, int p, const double *X, const double *y,
		const long double *pen, long double *beta, long double *G)
{
	long double *M = palloc0(sizeof(long double) * p * p);
	long double *work = palloc0(sizeof(long double) * p * p);
	long double *rhs = palloc0(sizeof(long double) * p);
	int			i,
				j,
				r,
				iter;

	for (r = 0; r < n; r++)
		for (i = 0; i < p; i++)
		{
			long double xi = X[(size_t) r * p + i];

			for (j = 0; j < p; j++)
				M[i * p + j] += xi * X[(size_t) r * p + j];
		}
	if (pen != NULL)
		for (i = 0; i < p; i++)
			M[i * p + i] += pen[i];

	/*
	 * Solve, then refine with the gradient of the objective computed from
	 * the data: each step removes the cond(X'X) * eps amplification of the
	 * normal equations, leaving the reference accurate to ~cond(X) * 1e-19.
	 */
	for (i = 0; i < p; i++)
		beta[i] = 0;
	for (iter = 0; iter < 4; iter++)
	{
		for (i = 0; i < p; i++)
			rhs[i] = pen != NULL ? -pen[i] * beta[i] : 0;
		for (r = 0; r < n; r++)
		{
			long double res = y[r];

			for (j = 0; j < p; j++)
				res -= X[(size_t) r * p + j] * beta[j];
			for (i = 0; i < p; i++)
				rhs[i] += X[(size_t) r * p + i] * res;
		}
		memcpy(work, M, sizeof(long double) * p * p);
		ref_gauss(p, work, rhs, 1);
		for (i = 0; i < p; i++)
			beta[i] += rhs[i];
	}
	if (G != NULL)
	{
		for (i = 0; i < p * p; i++)
			G[i] = 0;
		for (i = 0; i < p; i++)
			G[i * p + i] = 1;
		memcpy(work, M, sizeof(long double) * p * p);
		ref_gauss(p, work, G, p);
	}
	pfree(M);
	pfree(work);
	pfree(rhs);
}

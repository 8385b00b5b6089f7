/*-------------------------------------------------------------------------
 *
 * test_filip.c
 *	  The hard case: a degree-10 polynomial over a narrow range, modelled
 *	  on NIST StRD's Filip (condition number ~1e15), against a reference
 *	  computed in 113-bit __float128.
 *
 * x_i = -9 + i/16 (i = 0..95, exact binary fractions), design columns
 * x, x^2, ..., x^10 (each the correctly rounded double of the exact
 * power), y = Filip's certified polynomial plus deterministic noise,
 * rounded to a multiple of 1/1024 so that it is exact in double.  The
 * reference solves the least-squares problem for exactly these doubles
 * (not for the exact powers: with cond ~1e15 the rounding of the inputs
 * alone moves the coefficients in the second digit), once by Householder
 * QR and once by twice-iterated Gram-Schmidt, both in __float128.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <quadmath.h>
#include <stdio.h>

#include "algorithms/lsq.h"
#include "tap.h"

#define FILIP_N		96
#define FILIP_K		10
#define FILIP_D		(FILIP_K + 2)
#define FILIP_P		(FILIP_K + 1)	/* parameters, intercept included */

/* NIST StRD Filip certified values B0..B10, used as the true polynomial */
static const double filip_poly[FILIP_K + 1] = {
	-1467.48961422980, -2772.17959193342, -2316.37108160893,
	-1127.97394098372, -354.478233703349, -75.1242017393757,
	-10.8753180355343, -1.06221498588947, -0.670191154593408E-01,
	-0.246781078275479E-02, -0.402962525080404E-04
};

/* rows[i] = (1, x, x^2, ..., x^10, y) */
static void
MakeFilip(double rows[FILIP_N][FILIP_D])
{
	TestRng		rng;
	int			i,
				j;

	rng_seed(&rng, 20261126);
	for (i = 0; i < FILIP_N; i++)
	{
		__float128	x = -9 + (__float128) i / 16;
		__float128	xp = 1;
		__float128	y = 0;

		rows[i][0] = 1.0;
		for (j = 1; j <= FILIP_K; j++)
		{
			xp *= x;			/* exact: x has 8 significant bits */
			rows[i][j] = (double) xp;
		}
		for (j = FILIP_K; j >= 0; j--)
			y = y * x + filip_poly[j];
		y += 0.01 * (rng_uniform(&rng) - 0.5);
		rows[i][FILIP_D - 1] = nearbyint((double) (y * 1024)) / 1024;
	}
}

/* Back substitution R[0:p,0:p] b = R[0:p,p], R column-major with ld d. */
static void
QuadBackSolve(int p, int d, const __float128 *R, __float128 *b)
{
	int			i,
				j;

	for (i = p - 1; i >= 0; i--)
	{
		__float128	s = R[(size_t) p * d + i];

		for (j = i + 1; j < p; j++)
			s -= R[(size_t) j * d + i] * b[j];
		b[i] = s / R[(size_t) i * d + i];
	}
}

/* Householder QR of the n x d matrix A (column-major, destroyed). */
static void
QuadHouseholder(int n, int d, __float128 *A, __float128 *R, __float128 *b)
{
	int			i,
				j,
				c;

	for (j = 0; j < d; j++)
	{
		__float128 *a = A + (size_t) j * n;
		__float128	norm = 0;
		__float128	alpha;
		__float128	vnorm2;

		for (i = j; i < n; i++)
			norm += a[i] * a[i];
		norm = sqrtq(norm);
		alpha = a[j] > 0 ? -norm : norm;
		a[j] -= alpha;			/* v = a - alpha e_j, stored in place */
		vnorm2 = 0;
		for (i = j; i < n; i++)
			vnorm2 += a[i] * a[i];
		for (c = j + 1; c < d; c++)
		{
			__float128 *ac = A + (size_t) c * n;
			__float128	s = 0;

			for (i = j; i < n; i++)
				s += a[i] * ac[i];
			s = 2 * s / vnorm2;
			for (i = j; i < n; i++)
				ac[i] -= s * a[i];
		}
		for (c = 0; c < d; c++)
			R[(size_t) c * d + j] = c > j ? A[(size_t) c * n + j] : (c == j ? alpha : 0);
	}
	QuadBackSolve(d - 1, d, R, b);
}

/* Twice-iterated classical Gram-Schmidt (CGS2): an independent method. */
static void
QuadGramSchmidt(int n, int d, const __float128 *A, __float128 *R, __float128 *b)
{
	__float128 *Q = palloc0(sizeof(__float128) * n * d);
	int			i,
				j,
				c,
				pass;

	memset(R, 0, sizeof(__float128) * d * d);
	for (j = 0; j < d; j++)
	{
		__float128 *v = Q + (size_t) j * n;
		__float128	norm = 0;

		memcpy(v, A + (size_t) j * n, sizeof(__float128) * n);
		for (pass = 0; pass < 2; pass++)
			for (c = 0; c < j; c++)
			{
				__float128 *q = Q + (size_t) c * n;
				__float128	s = 0;

				for (i = 0; i < n; i++)
					s += q[i] * v[i];
				for (i = 0; i < n; i++)
					v[i] -= s * q[i];
				R[(size_t) j * d + c] += s;
			}
		for (i = 0; i < n; i++)
			norm += v[i] * v[i];
		norm = sqrtq(norm);
		R[(size_t) j * d + j] = norm;
		for (i = 0; i < n; i++)
			v[i] /= norm;
	}
	pfree(Q);
	QuadBackSolve(d - 1, d, R, b);
}

/* Smallest correct significant digits over all coefficients. */
static double
Digits(const LsqFit *fit, const __float128 *ref, double *worst_rel)
{
	double		worst = 0;
	int			j;

	for (j = 0; j < FILIP_P; j++)
	{
		double		est = j == 0 ? fit->intercept : fit->beta[j - 1];
		double		rel = (double) fabsq((est - ref[j]) / ref[j]);

		if (!(rel == rel))
			rel = INFINITY;
		worst = fmax(worst, rel);
	}
	*worst_rel = worst;
	return worst > 0 ? -log10(worst) : 99;
}

static void
FitRows(double rows[FILIP_N][FILIP_D], const int *order, int nstates, LsqFit *fit,
		double *min_ratio)
{
	LsqState   *states[8];
	LsqOptions	opts = {.intercept = true, .alpha = 0, .penalty_scale = NULL,
	.want_stderr = true};
	int			s,
				i,
				j;

	for (s = 0; s < nstates; s++)
		states[s] = LsqCreate(FILIP_D);
	for (i = 0; i < FILIP_N; i++)
		LsqAddRow(states[(i * nstates) / FILIP_N], rows[order ? order[i] : i]);
	for (s = 1; s < nstates; s++)
		LsqMerge(states[0], states[s]);
	LsqSolve(states[0], &opts, fit);

	/* the rank criterion's margin: min over design columns of |R_jj|/||A_j|| */
	*min_ratio = INFINITY;
	for (j = 1; j < FILIP_D - 1; j++)
	{
		const double *col = states[0]->R + (size_t) j * FILIP_D;
		double		norm = 0;

		for (i = 0; i <= j; i++)
			norm += col[i] * col[i];
		*min_ratio = fmin(*min_ratio, fabs(col[j]) / sqrt(norm));
	}
}

int
main(void)
{
	static double rows[FILIP_N][FILIP_D];
	__float128 *A = palloc(sizeof(__float128) * FILIP_N * FILIP_D);
	__float128	Rh[FILIP_D * FILIP_D];
	__float128	Rg[FILIP_D * FILIP_D];
	__float128	ref_h[FILIP_P];
	__float128	ref_g[FILIP_P];
	double		refdiff = 0;
	int			order[FILIP_N];
	int			i,
				j;
	struct
	{
		const char *name;
		bool		reversed;
		int			nstates;
	}			cases[] = {
		{"one state", false, 1},
		{"rows reversed", true, 1},
		{"three states merged", false, 3},
		{"eight states merged, rows reversed", true, 8},
	};

	MakeFilip(rows);
	for (i = 0; i < FILIP_N; i++)
		for (j = 0; j < FILIP_D; j++)
			A[(size_t) j * FILIP_N + i] = rows[i][j];
	QuadGramSchmidt(FILIP_N, FILIP_D, A, Rg, ref_g);
	QuadHouseholder(FILIP_N, FILIP_D, A, Rh, ref_h);
	for (j = 0; j < FILIP_P; j++)
		refdiff = fmax(refdiff, (double) fabsq((ref_h[j] - ref_g[j]) / ref_h[j]));
	tap_ok(refdiff < 1e-15,
		   "Filip reference: __float128 Householder and Gram-Schmidt agree (rel diff %.1e)",
		   refdiff);
	for (j = 0; j < FILIP_P; j++)
	{
		char		buf[64];

		quadmath_snprintf(buf, sizeof(buf), "%.20Qe", ref_h[j]);
		tap_diag("reference b%-2d = %s", j, buf);
	}

	for (i = 0; i < FILIP_N; i++)
		order[i] = FILIP_N - 1 - i;
	for (i = 0; i < (int) lengthof(cases); i++)
	{
		LsqFit		fit;
		double		worst;
		double		min_ratio;
		double		digits;

		FitRows(rows, cases[i].reversed ? order : NULL, cases[i].nstates, &fit, &min_ratio);
		tap_ok(fit.rank_deficient_col == -1,
			   "Filip (%s): not rank deficient (min |R_jj|/||A_j|| = %.2e)",
			   cases[i].name, min_ratio);
		if (fit.rank_deficient_col != -1)
			continue;
		digits = Digits(&fit, ref_h, &worst);
		tap_ok(worst < 1e-7,
			   "Filip (%s): every coefficient to %.1f significant digits (max rel err %.1e)",
			   cases[i].name, digits, worst);
		if (i == 0)
		{
			for (j = 0; j < FILIP_P; j++)
			{
				double		est = j == 0 ? fit.intercept : fit.beta[j - 1];

				tap_diag("b%-2d = %.15e  rel err %.1e", j, est,
						 (double) fabsq((est - ref_h[j]) / ref_h[j]));
			}
		}
	}
	pfree(A);
	return tap_done();
}

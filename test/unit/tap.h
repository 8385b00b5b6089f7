/*-------------------------------------------------------------------------
 *
 * tap.h
 *	  A minimal TAP producer and shared helpers for the unit tests.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_TEST_TAP_H
#define AIF_TEST_TAP_H

#include "postgres.h"

/* Record one assertion: prints "ok N - ..." or "not ok N - ...". */
extern bool tap_ok(bool passed, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* A "# ..." comment line; harmless to any TAP consumer. */
extern void tap_diag(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* Print the plan "1..N"; returns the process exit status (0 iff all passed). */
extern int	tap_done(void);

/* Deterministic PRNG (splitmix64), so every run sees the same data. */
typedef struct TestRng
{
	uint64		s;
} TestRng;

extern void rng_seed(TestRng *rng, uint64 seed);
extern double rng_uniform(TestRng *rng);	/* [0, 1) */
extern double rng_normal(TestRng *rng);

/* max_j |a_j - b_j| / max(|b_j|, floor) */
extern double max_rel_err(const double *a, const double *b, int n, double floor);

/* Seconds from a monotonic clock. */
extern double now_seconds(void);

/*
 * Reference least squares in long double by the normal equations (X has
 * n rows and p columns, row-major, and should include a ones column if an
 * intercept is wanted); Gaussian elimination with partial pivoting and
 * iterative refinement against the data.  For well-conditioned data this
 * is accurate to ~1e-17, far beyond what the double code under test can
 * reach, and it shares no code with it.
 * G (p x p, row-major, may be NULL) receives (X^T X + P)^{-1}, where P
 * is diag(pen) (pen may be NULL).
 */
extern void ref_lsq(int n, int p, const double *X, const double *y,
					const long double *pen, long double *beta, long double *G);

#endif							/* AIF_TEST_TAP_H */

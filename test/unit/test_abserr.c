/*
 * test_abserr.c
 *	  Squared and absolute errors from pilot error sums equal the direct
 *	  ones, through merges and serialization; a pilot too far from the
 *	  final coefficients is refused rather than trusted.
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/abserr.h"
#include "tap.h"

#define M 6						/* intercept + 5 features */
#define N 20000

static double X[N][M];
static double Y[N];

static void
make_data(TestRng *rng, const double *truth)
{
	for (int i = 0; i < N; i++)
	{
		X[i][0] = 1.0;
		Y[i] = truth[0];
		for (int j = 1; j < M; j++)
		{
			X[i][j] = rng_normal(rng) * j + (j % 2 ? 3 : -1);
			Y[i] += truth[j] * X[i][j];
		}
		Y[i] += 0.3 * rng_normal(rng);
	}
}

/*
 * Feed rows [from, to) under pilots that change every `every` rows, each
 * the true coefficients plus a perturbation; count the rows the state
 * refuses (the caller would keep and evaluate them itself).
 */
static void
feed(AbsErrState *st, int from, int to, int every, const double *truth,
	 double perturb, double tau, int *kept)
{
	for (int i = from; i < to; i++)
	{
		if ((i - from) % every == 0)
		{
			double		pilot[M];

			for (int j = 0; j < M; j++)
				pilot[j] = truth[j] + perturb * ((i / every + j) % 3 - 1);
			AbsErrPilot(st, pilot, tau);
		}
		if (!AbsErrAdd(st, X[i], Y[i]))
			(*kept)++;
	}
}

static void
direct(const double *b, int from, int to, double *sse, double *sae)
{
	*sse = 0;
	*sae = 0;
	for (int i = from; i < to; i++)
	{
		double		r = Y[i];

		for (int j = 0; j < M; j++)
			r -= b[j] * X[i][j];
		*sse += r * r;
		*sae += fabs(r);
	}
}

int
main(void)
{
	TestRng		rng;
	double		truth[M] = {0.5, 2.0, -1.0, 0.25, 3.0, -0.75};
	double		b[M];
	double		sse;
	double		sae;
	int64		rows;
	AbsErrState *a;
	AbsErrState *c;
	int			kept = 0;
	double		dsse;
	double		dsae;

	rng_seed(&rng, 42);
	make_data(&rng, truth);
	/* the final coefficients: a little off the truth, as a fit would be */
	for (int j = 0; j < M; j++)
		b[j] = truth[j] + 1e-3 * (j % 2 ? 1 : -1);

	/* one state, pilots within 2e-3 of b, tau 0.2 */
	a = AbsErrCreate(M);
	feed(a, 0, N, 2500, truth, 1e-3, 0.2, &kept);
	tap_ok(AbsErrFinish(a, b, &sse, &sae, &rows), "pilots close to the fit are accepted");
	{
		/* the refused rows, evaluated directly, complete the sums */
		double		rsse = 0;
		double		rsae = 0;
		int64		kept_rows = 0;
		double		tot_sse;
		double		tot_sae;

		for (int i = 0; i < N; i++)
		{
			double		pilot[M];
			double		r = Y[i];
			double		rp = Y[i];

			for (int j = 0; j < M; j++)
			{
				pilot[j] = truth[j] + 1e-3 * ((i / 2500 + j) % 3 - 1);
				rp -= pilot[j] * X[i][j];
				r -= b[j] * X[i][j];
			}
			if (!(fabs(rp) > 0.2))
			{
				rsse += r * r;
				rsae += fabs(r);
				kept_rows++;
			}
		}
		direct(b, 0, N, &dsse, &dsae);
		tot_sse = sse + rsse;
		tot_sae = sae + rsae;
		tap_ok(rows + kept_rows == N && kept_rows == kept,
			   "summed (%lld) and kept (%lld) rows make up all %d", (long long) rows,
			   (long long) kept_rows, N);
		tap_ok(fabs(tot_sse - dsse) <= 1e-10 * dsse,
			   "squared errors exact (rel. err %.1e)", fabs(tot_sse - dsse) / dsse);
		tap_ok(fabs(tot_sae - dsae) <= 1e-10 * dsae,
			   "absolute errors exact (rel. err %.1e)", fabs(tot_sae - dsae) / dsae);
		tap_ok(kept_rows < N / 2, "most rows were summed, not kept (%lld kept)",
			   (long long) kept_rows);
	}

	/* split in two states, one serialized and back, merged: same sums */
	{
		AbsErrState *p = AbsErrCreate(M);
		AbsErrState *q = AbsErrCreate(M);
		Size		len;
		char	   *buf;
		double		msse;
		double		msae;
		int64		mrows;
		int			k2 = 0;

		feed(p, 0, N / 2, 2500, truth, 1e-3, 0.2, &k2);
		feed(q, N / 2, N, 2500, truth, 1e-3, 0.2, &k2);
		len = AbsErrSerializedSize(q);
		buf = palloc(len);
		AbsErrSerialize(q, buf);
		c = AbsErrDeserialize(buf, len);
		AbsErrMerge(p, c);
		tap_ok(AbsErrFinish(p, b, &msse, &msae, &mrows), "merged state accepted");
		tap_ok(mrows == rows && fabs(msse - sse) <= 1e-9 * sse && fabs(msae - sae) <= 1e-9 * sae,
			   "merge through serialization gives the same sums");
		SHIM_TRY();
		(void) AbsErrDeserialize(buf, len - 8);
		SHIM_END_TRY();
		tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_DATA_CORRUPTED,
			   "a truncated state is a clean error");
	}

	/* a pilot far from the fit (or a tau too small) must be refused */
	{
		AbsErrState *f = AbsErrCreate(M);
		double		far[M];
		int			k3 = 0;

		feed(f, 0, N, N, truth, 0.0, 0.05, &k3);
		for (int j = 0; j < M; j++)
			far[j] = truth[j] + 0.5;
		tap_ok(!AbsErrFinish(f, far, &sse, &sae, &rows),
			   "coefficients far from the pilot are refused");
	}
	return tap_done();
}

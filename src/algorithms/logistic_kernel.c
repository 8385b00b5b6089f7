/*-------------------------------------------------------------------------
 *
 * logistic_kernel.c
 *	  The per-row loss and residuals of binary logistic regression.
 *
 * The innermost loop of the logistic fit: for every row and every function
 * evaluation of L-BFGS, an exp, a division and a few selects.  Written
 * plainly it costs ~70 % of the fit's CPU time on 20 features, most of it
 * in libm's exp and in the loop's dependent scalar operations, while the
 * BLAS work on the same rows is a small part.  On x86-64 CPUs with AVX2
 * and FMA (checked at run time) the rows go four at a time through the
 * same formulas, with exp computed inline: Cody-Waite reduction by ln 2
 * (x = n ln 2 + r, |r| <= ln 2 / 2), a degree-13 Taylor polynomial in r
 * (truncation error below 5e-18 relative), and 2^n put in the exponent
 * bits.  Its argument is -|z| clamped at -708, where 2^n stays a normal
 * number: below that exp is under 1e-307, and the loss and residual it
 * would change differ by less than that.  The results differ from the
 * scalar path's in the last bits only (sums in another order; the exp
 * within about an ulp); each path gives the same bits whatever the number
 * of threads, as the fit requires.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/logistic_kernel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LOGISTIC_KERNEL_AVX2 1
#include <immintrin.h>
#endif

/* set by LogisticKernelInit in the backend's thread, read by any */
static int	kernel_simd = -1;

void
LogisticKernelInit(void)
{
	if (kernel_simd >= 0)
		return;
#ifdef LOGISTIC_KERNEL_AVX2
	__builtin_cpu_init();
	kernel_simd = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	kernel_simd = 0;
#endif
}

bool
LogisticKernelSimd(void)
{
	LogisticKernelInit();
	return kernel_simd > 0;
}

/* The scalar path: any row count, any CPU. */
static void
binary_rows_scalar(const double *z, const int *y, double *r, int n,
				   double *sum_out, double *prod_out)
{
	double		prod = 1.0;
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
	{
		double		zi = z[i];
		double		yi = (double) y[i];
		double		e = exp(-fabs(zi));
		double		u = 1.0 + e;
		double		q = 1.0 / u;
		double		series;
		double		fix;

		/*
		 * log1p(e): for small e its series; otherwise log(u), taken once
		 * per chunk as the log of the product of the u, plus the rounding
		 * error of u = 1 + e (exact by Fast2Sum) over u.  Both are computed
		 * and one is selected, so that the loop has no unpredictable
		 * branch.
		 */
		series = e * (1.0 - e * (1.0 / 2 - e * (1.0 / 3 - e * (1.0 / 4 - e * (1.0 / 5 - e * (1.0 / 6))))));
		fix = (e - (u - 1.0)) * q;
		sum += e < LOGISTIC_SMALL_E ? series : fix;
		prod *= e < LOGISTIC_SMALL_E ? 1.0 : u;

		/* the rest of the loss, and the residual sigmoid(z) - y */
		sum += (zi > 0 ? zi : 0.0) - yi * zi;
		r[i] = (zi > 0 ? q : e * q) - yi;
	}
	*sum_out = sum;
	*prod_out = prod;
}

#ifdef LOGISTIC_KERNEL_AVX2

/* exp(x) of four x in [-708, 0] (see the file's header) */
__attribute__((target("avx2,fma")))
static inline __m256d
exp4_nonpositive(__m256d x)
{
	const __m256d log2e = _mm256_set1_pd(1.4426950408889634074);
	/* ln 2 in two parts, the first with trailing zeros (fdlibm's) */
	const __m256d ln2hi = _mm256_set1_pd(6.93147180369123816490e-01);
	const __m256d ln2lo = _mm256_set1_pd(1.90821492927058770002e-10);
	__m256d		n;
	__m256d		rr;
	__m256d		p;
	__m128i		ni;
	__m256i		bits;

	n = _mm256_round_pd(_mm256_mul_pd(x, log2e),
						_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	rr = _mm256_fnmadd_pd(n, ln2hi, x);
	rr = _mm256_fnmadd_pd(n, ln2lo, rr);

	/* sum of r^k / k! for k = 0..13, by Horner */
	p = _mm256_set1_pd(1.0 / 6227020800.0);
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 479001600.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 39916800.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 3628800.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 362880.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 40320.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 5040.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 720.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 120.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 24.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0 / 6.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(0.5));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0));
	p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(1.0));

	/* times 2^n: n + 1023 in the exponent field (n >= -1022 here) */
	ni = _mm256_cvtpd_epi32(n);
	bits = _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(ni),
											  _mm256_set1_epi64x(1023)), 52);
	return _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
}

/*
 * LOGISTIC_CHUNK_ROWS rows as two groups of four lanes: each lane runs the
 * scalar path's formulas; the lanes' sums and products are combined in a
 * fixed order.
 */
__attribute__((target("avx2,fma")))
static void
binary_chunk_avx2(const double *z, const int *y, double *r,
				  double *sum_out, double *prod_out)
{
	const __m256d one = _mm256_set1_pd(1.0);
	const __m256d zero = _mm256_setzero_pd();
	const __m256d small = _mm256_set1_pd(LOGISTIC_SMALL_E);
	const __m256d floor_x = _mm256_set1_pd(-708.0);
	const __m256d sign = _mm256_set1_pd(-0.0);
	__m256d		vsum = zero;
	__m256d		vprod = one;
	double		s[4];
	double		pr[4];

	for (int h = 0; h < LOGISTIC_CHUNK_ROWS; h += 4)
	{
		__m256d		zi = _mm256_loadu_pd(z + h);
		__m256d		yi = _mm256_cvtepi32_pd(_mm_loadu_si128((const __m128i *) (y + h)));
		__m256d		x = _mm256_max_pd(_mm256_or_pd(zi, sign), floor_x);	/* -|z| */
		__m256d		e = exp4_nonpositive(x);
		__m256d		u = _mm256_add_pd(one, e);
		__m256d		q = _mm256_div_pd(one, u);
		__m256d		series;
		__m256d		fix;
		__m256d		is_small = _mm256_cmp_pd(e, small, _CMP_LT_OQ);
		__m256d		positive = _mm256_cmp_pd(zi, zero, _CMP_GT_OQ);

		series = _mm256_fnmadd_pd(e, _mm256_set1_pd(1.0 / 6), _mm256_set1_pd(1.0 / 5));
		series = _mm256_fnmadd_pd(e, series, _mm256_set1_pd(1.0 / 4));
		series = _mm256_fnmadd_pd(e, series, _mm256_set1_pd(1.0 / 3));
		series = _mm256_fnmadd_pd(e, series, _mm256_set1_pd(1.0 / 2));
		series = _mm256_fnmadd_pd(e, series, one);
		series = _mm256_mul_pd(e, series);
		fix = _mm256_mul_pd(_mm256_sub_pd(e, _mm256_sub_pd(u, one)), q);
		vsum = _mm256_add_pd(vsum, _mm256_blendv_pd(fix, series, is_small));
		vprod = _mm256_mul_pd(vprod, _mm256_blendv_pd(u, one, is_small));

		/* max(z, 0) - y z, and the residual sigmoid(z) - y */
		vsum = _mm256_add_pd(vsum, _mm256_fnmadd_pd(yi, zi, _mm256_max_pd(zi, zero)));
		_mm256_storeu_pd(r + h,
						 _mm256_sub_pd(_mm256_blendv_pd(_mm256_mul_pd(e, q), q, positive),
									   yi));
	}
	_mm256_storeu_pd(s, vsum);
	_mm256_storeu_pd(pr, vprod);
	*sum_out = (s[0] + s[1]) + (s[2] + s[3]);
	*prod_out = (pr[0] * pr[1]) * (pr[2] * pr[3]);
}

__attribute__((target("avx2,fma")))
static double
exp1_avx2(double x)
{
	double		out[4];

	_mm256_storeu_pd(out, exp4_nonpositive(_mm256_set1_pd(Max(x, -708.0))));
	return out[0];
}

double
LogisticKernelExp(double x)
{
	if (!LogisticKernelSimd())
		return NAN;
	return exp1_avx2(x);
}

#else

double
LogisticKernelExp(double x)
{
	return NAN;
}

#endif							/* LOGISTIC_KERNEL_AVX2 */

void
LogisticBinaryChunk(const double *z, const int *y, double *r, int n,
					double *sum, double *prod)
{
#ifdef LOGISTIC_KERNEL_AVX2
	if (n == LOGISTIC_CHUNK_ROWS && kernel_simd > 0)
	{
		binary_chunk_avx2(z, y, r, sum, prod);
		return;
	}
#endif
	binary_rows_scalar(z, y, r, n, sum, prod);
}

/*-------------------------------------------------------------------------
 *
 * splithash.c
 *	  The split hash of a row of float8 values (see splithash.h).
 *
 * A load of the 1M x 20 benchmark table hashed 20 million values one at a
 * time, a fifth of the time the load spent on its rows.  With AVX-512
 * (F for the loads, compares and adds, DQ for the 64-bit multiply) eight
 * values go through the same steps at once; -0 becomes +0 by adding +0
 * (which changes no other number, and a NaN's bits do not matter: the row
 * is refused).  The per-lane sums are added at the end: integer addition,
 * so the result is the scalar path's to the bit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "algorithms/splithash.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SPLITHASH_AVX512 1
#include <immintrin.h>
#endif

/* -1 until the first call looks at the CPU */
static int	splithash_simd = -1;

bool
SplitHashSimd(void)
{
	if (splithash_simd < 0)
	{
#ifdef SPLITHASH_AVX512
		__builtin_cpu_init();
		splithash_simd = __builtin_cpu_supports("avx512f") &&
			__builtin_cpu_supports("avx512dq");
#else
		splithash_simd = 0;
#endif
	}
	return splithash_simd > 0;
}

uint64
SplitHashFloat8Scalar(const uint64 *salts, const double *x, int n, bool *bad)
{
	uint64		sum = 0;
	bool		notfinite = false;

	for (int i = 0; i < n; i++)
	{
		double		v = x[i];

		notfinite |= !(fabs(v) <= DBL_MAX);
		sum += SplitHashTerm(salts[i], SplitHashDoubleWord(v));
	}
	*bad = notfinite;
	return sum;
}

#ifdef SPLITHASH_AVX512

__attribute__((target("avx512f,avx512dq")))
static uint64
split_hash_avx512(const uint64 *salts, const double *x, int n, bool *bad)
{
	const __m512i mult = _mm512_set1_epi64((long long) UINT64CONST(0xD6E8FEB86659FD93));
	const __m512d largest = _mm512_set1_pd(DBL_MAX);
	__m512i		sum = _mm512_setzero_si512();
	__mmask8	notfinite = 0;

	for (int i = 0; i < n; i += 8)
	{
		__mmask8	m = n - i >= 8 ? 0xFF : (__mmask8) ((1u << (n - i)) - 1);
		__m512d		v = _mm512_maskz_loadu_pd(m, x + i);
		__m512i		w;

		/* not |v| <= DBL_MAX: NaN or infinity */
		notfinite |= _mm512_mask_cmp_pd_mask(m, _mm512_abs_pd(v), largest, _CMP_NLE_UQ);
		v = _mm512_add_pd(v, _mm512_setzero_pd());	/* -0 + +0 = +0 */
		w = _mm512_xor_si512(_mm512_castpd_si512(v), _mm512_maskz_loadu_epi64(m, salts + i));
		w = _mm512_xor_si512(w, _mm512_srli_epi64(w, 32));
		w = _mm512_mullo_epi64(w, mult);
		sum = _mm512_mask_add_epi64(sum, m, sum, w);
	}
	*bad = notfinite != 0;
	return (uint64) _mm512_reduce_add_epi64(sum);
}

#endif							/* SPLITHASH_AVX512 */

uint64
SplitHashFloat8(const uint64 *salts, const double *x, int n, bool *bad)
{
#ifdef SPLITHASH_AVX512
	if (splithash_simd > 0 || (splithash_simd < 0 && SplitHashSimd()))
		return split_hash_avx512(salts, x, n, bad);
#endif
	return SplitHashFloat8Scalar(salts, x, n, bad);
}

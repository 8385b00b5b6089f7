/*-------------------------------------------------------------------------
 *
 * rng.h
 *	  A small seeded random number generator for the algorithms.
 *
 * xoshiro256** seeded through splitmix64 (Blackman and Vigna).  The same
 * seed gives the same stream on every platform, which is what makes
 * k-means++, bootstrap samples and random search reproducible.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_RNG_H
#define AIF_RNG_H

#include <stdint.h>

typedef struct AifRng
{
	uint64_t	s[4];
} AifRng;

static inline uint64_t
aif_rng_splitmix(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static inline void
AifRngSeed(AifRng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = aif_rng_splitmix(&seed);
}

static inline uint64_t
aif_rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Uniform 64-bit integer. */
static inline uint64_t
AifRngNext(AifRng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = aif_rng_rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = aif_rng_rotl(s[3], 45);
	return result;
}

/* Uniform double in [0, 1). */
static inline double
AifRngDouble(AifRng *rng)
{
	return (double) (AifRngNext(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0 (Lemire's nearly divisionless method). */
static inline uint64_t
AifRngBelow(AifRng *rng, uint64_t n)
{
	__uint128_t m = (__uint128_t) AifRngNext(rng) * n;
	uint64_t	l = (uint64_t) m;

	if (l < n)
	{
		uint64_t	t = -n % n;

		while (l < t)
		{
			m = (__uint128_t) AifRngNext(rng) * n;
			l = (uint64_t) m;
		}
	}
	return (uint64_t) (m >> 64);
}

#endif							/* AIF_RNG_H */

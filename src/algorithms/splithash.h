/*-------------------------------------------------------------------------
 *
 * splithash.h
 *	  The split hash of a training row: which side of the train/test split
 *	  a row falls on, from its raw values.
 *
 * Every training pass decides a row's side the same way (train/pass.c):
 * each of the row's words -- a number's bits (-0 as +0), a string's hash,
 * a NULL's marker -- is xor-ed with its position's salt (from the seed),
 * folded and multiplied by an odd constant, and the row's hash is the sum
 * of these terms, modulo 2^64.  The terms are independent, so there is no
 * chain of dependent multiplies per row, and their sum is the same in any
 * order: SplitHashFloat8 adds eight at a time on CPUs with AVX-512 (checked
 * at run time) and gets the same bits as the scalar path.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_SPLITHASH_H
#define AIF_SPLITHASH_H

#include "postgres.h"

/* A word mixed, with its position's salt, into its term of the row's hash. */
static inline uint64
SplitHashTerm(uint64 salt, uint64 word)
{
	uint64		w = word ^ salt;

	w ^= w >> 32;
	return w * UINT64CONST(0xD6E8FEB86659FD93);
}

/* A number's word: its bits, with -0 and +0 as one value. */
static inline uint64
SplitHashDoubleWord(double v)
{
	uint64		bits;

	if (v == 0.0)
		v = 0.0;
	memcpy(&bits, &v, sizeof(bits));
	return bits;
}

/*
 * The sum of the terms of the n values x[i] (salt salts[i] each), and in
 * *bad whether any of them is NaN or infinite (its term is then of no use:
 * such a row is refused).
 */
extern uint64 SplitHashFloat8(const uint64 *salts, const double *x, int n, bool *bad);

/* The same, one value at a time on any CPU (SplitHashFloat8's other path). */
extern uint64 SplitHashFloat8Scalar(const uint64 *salts, const double *x, int n, bool *bad);

/* Whether SplitHashFloat8 takes eight values at a time on this CPU. */
extern bool SplitHashSimd(void);

#endif							/* AIF_SPLITHASH_H */

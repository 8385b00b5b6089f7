/*-------------------------------------------------------------------------
 *
 * logistic_kernel.h
 *	  The per-row loss and residuals of binary logistic regression.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_LOGISTIC_KERNEL_H
#define AIF_LOGISTIC_KERNEL_H

#include "postgres.h"

/*
 * Rows of the per-row loop between prefetches of the next block, and over
 * which the binary loss takes one log of a product (at most 2^8, with u
 * in [1, 2]).  Measured: 8 beats 16, 32 and 64 by 5 to 15 %.
 */
#define LOGISTIC_CHUNK_ROWS		8

/*
 * Below this e = exp(-|z|), the binary loss takes log1p(e) from its series
 * to e^6 (relative truncation error < e^6/7 < 1e-19); from it up, from the
 * log of a product of up to LOGISTIC_CHUNK_ROWS factors 1 + e, whose
 * rounding (~8 ulps) is an absolute error of ~1e-15 against losses of at
 * least 1e-3 per row.  glibc's log1p is slower than its exp and log; this
 * took the benchmark fit (1M x 20) from 0.36 to 0.32 s.
 */
#define LOGISTIC_SMALL_E		(1.0 / 1024)

/*
 * Decide once, in the backend's thread, whether the CPU runs the AVX2
 * kernel; LogisticBinaryChunk follows the decision in any thread.
 */
extern void LogisticKernelInit(void);

/*
 * For n <= LOGISTIC_CHUNK_ROWS rows with decision values z and labels y
 * (0 or 1): the residuals r = sigmoid(z) - y, and the rows' loss
 * log(1 + exp(-|z|)) + max(z, 0) - y z as sum + log(prod), prod being a
 * product of at most n factors in [1, 2].  Pure arithmetic, any thread.
 */
extern void LogisticBinaryChunk(const double *z, const int *y, double *r, int n,
								double *sum, double *prod);

/* exp(x) as the AVX2 kernel computes it (x <= 0; tests), or NaN without it */
extern double LogisticKernelExp(double x);

/* whether LogisticBinaryChunk uses the AVX2 kernel */
extern bool LogisticKernelSimd(void);

#endif							/* AIF_LOGISTIC_KERNEL_H */

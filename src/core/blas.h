/*-------------------------------------------------------------------------
 *
 * blas.h
 *	  OpenBLAS thread discipline.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_BLAS_H
#define AIF_BLAS_H

/* Apply aifactory.blas_threads before a backend's BLAS work. */
extern void AifBlasPrepare(void);

#endif							/* AIF_BLAS_H */

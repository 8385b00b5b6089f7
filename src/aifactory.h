/*-------------------------------------------------------------------------
 *
 * aifactory.h
 *	  Settings shared by every subsystem.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIFACTORY_H
#define AIFACTORY_H

extern int	aif_blas_threads;
extern int	aif_train_memory;	/* kB (default 1GB); -1 means maintenance_work_mem */
extern int	aif_model_cache_size;	/* kB */
extern int	aif_max_workers;	/* trial workers of a search */
extern char *aif_database;		/* the scheduler's database; "" = off */
extern int	aif_monitor_naptime;	/* seconds between scheduler rounds */

/* Bytes that one training run may hold in memory. */
extern Size AifTrainMemoryBytes(void);

/* subsystem initialisation, called from _PG_init */
extern void RegistryCacheInit(void);

#endif							/* AIFACTORY_H */

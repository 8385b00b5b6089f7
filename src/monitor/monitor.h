/*-------------------------------------------------------------------------
 *
 * monitor.h
 *	  The scheduler worker that runs drift monitors on its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_MONITOR_H
#define AIF_MONITOR_H

#include "fmgr.h"

/* Registers the scheduler worker when loaded by shared_preload_libraries. */
extern void SchedulerInit(void);

/* The worker's entry point (bgw_function_name). */
extern PGDLLEXPORT void aifactory_scheduler_main(Datum main_arg);

#endif							/* AIF_MONITOR_H */

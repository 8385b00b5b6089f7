/*-------------------------------------------------------------------------
 *
 * miscadmin.h (unit-test shim)
 *	  CHECK_FOR_INTERRUPTS() without a server: there is nothing to cancel.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_PGSHIM_MISCADMIN_H
#define AIF_PGSHIM_MISCADMIN_H

#include "postgres.h"

#define CHECK_FOR_INTERRUPTS() do { } while (0)
#define InterruptPending (false)
#define INTERRUPTS_CAN_BE_PROCESSED() (true)

#endif							/* AIF_PGSHIM_MISCADMIN_H */

/*-------------------------------------------------------------------------
 *
 * threads.c
 *	  Independent work items run in the backend's thread and one helper.
 *
 * For the steps of an in-memory fit whose items (columns, features) are
 * independent and each write only their own outputs: the backend's thread
 * and one helper thread take the items one by one from a shared counter,
 * so the results do not depend on the number of threads or on which
 * thread took which item.  The rules are those of the k-means and logistic
 * helpers (docs/architecture.md, "BLAS discipline"): fn must be pure
 * arithmetic on memory allocated beforehand -- no palloc, no ereport, no
 * CHECK_FOR_INTERRUPTS, no PostgreSQL state; the helper runs with every
 * signal blocked (a backend's signal handlers must run in its main thread)
 * and is joined before AifRunItems returns.  The backend stops taking
 * items as soon as an interrupt is pending, joins the helper, serves the
 * interrupt (which may not return) and goes on with the items left, so a
 * cancel waits for one item in each thread.  If the helper cannot be
 * started, the backend takes every item.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "core/threads.h"
#include "miscadmin.h"

/* the backend's thread and one helper at most */
#define AIF_MAX_THREADS		2

typedef struct ItemRun
{
	AifItemFn	fn;
	void	   *arg;
	int64		nitems;
	int64		next;			/* the next item to take, shared */
	bool		stop;			/* the backend has an interrupt to serve */
} ItemRun;

/* Take items until none is left or the backend raises stop. */
static void
TakeItems(ItemRun *run, bool backend)
{
	for (;;)
	{
		int64		i;

		if (backend && InterruptPending && INTERRUPTS_CAN_BE_PROCESSED())
			__atomic_store_n(&run->stop, true, __ATOMIC_RELAXED);
		if (__atomic_load_n(&run->stop, __ATOMIC_RELAXED))
			return;
		i = __atomic_fetch_add(&run->next, 1, __ATOMIC_RELAXED);
		if (i >= run->nitems)
			return;
		run->fn(run->arg, i);
	}
}

static void *
HelperThread(void *arg)
{
	TakeItems((ItemRun *) arg, false);
	return NULL;
}

void
AifRunItems(int64 nitems, AifItemFn fn, void *arg, int threads)
{
	ItemRun		run;
	long		online = sysconf(_SC_NPROCESSORS_ONLN);

	if (online > 0 && threads > online)
		threads = (int) online;
	threads = Min(threads, AIF_MAX_THREADS);
	run.fn = fn;
	run.arg = arg;
	run.nitems = nitems;
	run.next = 0;
	for (;;)
	{
		pthread_t	tid;
		bool		started = false;

		run.stop = false;
		/* a helper only when at least two items are left */
		if (threads > 1 && nitems - run.next >= 2)
		{
			sigset_t	all;
			sigset_t	old;

			/* the helper inherits a mask that blocks every signal */
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			started = pthread_create(&tid, NULL, HelperThread, &run) == 0;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		TakeItems(&run, true);
		if (started)
			pthread_join(tid, NULL);
		CHECK_FOR_INTERRUPTS();
		if (__atomic_load_n(&run.next, __ATOMIC_RELAXED) >= nitems)
			break;
	}
}

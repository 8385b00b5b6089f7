/*-------------------------------------------------------------------------
 *
 * prefault.c
 *	  Fresh memory made resident, and dead memory given back, by a helper
 *	  thread while the backend works.
 *
 * The kernel backs a large allocation page by page as it is first written:
 * a fault per 4 kB page, each taking a page, zeroing it and charging it to
 * the process.  Loading 1M rows x 20 features into memory and building the
 * training matrices touches about 350 MB of fresh memory that way, some
 * 85,000 faults and a tenth of a train() call, all in the backend's thread.
 * Here a helper thread asks the kernel to populate a range ahead of its use
 * (madvise MADV_POPULATE_WRITE, Linux 5.14 and later), so the work runs on
 * another CPU while the backend scans or splits.  Populating changes no
 * contents, so the backend may use the range meanwhile; a page it reaches
 * first is simply not populated twice.  Where the kernel does not know the
 * advice, the helper gives up at once and the backend faults as before.
 *
 * The other way round, freeing a large allocation unmaps its pages one by
 * one in the backend's thread: ~13 ms for the dataset of a 1M x 20 load.
 * AifReleaseStart hands pages the backend will not read again to the
 * kernel (MADV_DONTNEED) from a helper while the backend registers the
 * model; the free that follows finds nothing left to unmap.
 *
 * The helper follows the rules of core/threads.c: no PostgreSQL call, every
 * signal blocked.  It is joined by AifPrefaultWait or, if an error unwinds
 * before that, by a reset callback of the memory context that holds the
 * ranges (the caller names it), which runs before the context frees any
 * memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/prefault.h"
#include "utils/memutils.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* populated per madvise call: the helper looks for a stop request between */
#define PREFAULT_STEP	(4 * 1024 * 1024)

typedef struct PrefaultRange
{
	char	   *start;			/* page-aligned */
	Size		len;			/* whole pages */
} PrefaultRange;

struct AifPrefault
{
	int			advice;			/* MADV_POPULATE_WRITE or MADV_DONTNEED */
	pthread_t	tid;
	bool		joined;
	bool		stop;			/* set by the backend: stop early */
	MemoryContextCallback cb;
	int			nranges;
	PrefaultRange range[FLEXIBLE_ARRAY_MEMBER];
};

static void *
PrefaultThread(void *arg)
{
	AifPrefault *pf = (AifPrefault *) arg;

	for (int i = 0; i < pf->nranges; i++)
	{
		PrefaultRange *r = &pf->range[i];

		for (Size done = 0; done < r->len;)
		{
			Size		n = Min(PREFAULT_STEP, r->len - done);

			if (__atomic_load_n(&pf->stop, __ATOMIC_RELAXED))
				return NULL;
			/* EINVAL: a kernel without the advice; nothing more to do */
			if (madvise(r->start + done, n, pf->advice) != 0)
				return NULL;
			done += n;
		}
	}
	return NULL;
}

static void
PrefaultJoin(AifPrefault *pf)
{
	if (pf->joined)
		return;
	pthread_join(pf->tid, NULL);
	pf->joined = true;
}

/* the context is being reset or deleted: the helper must not outlive it */
static void
PrefaultResetCallback(void *arg)
{
	AifPrefault *pf = (AifPrefault *) arg;

	__atomic_store_n(&pf->stop, true, __ATOMIC_RELAXED);
	PrefaultJoin(pf);
}

/* The whole pages inside [ptr, ptr + len), or false if there are none. */
static bool
whole_pages(void *ptr, Size len, PrefaultRange *r)
{
	static Size page = 0;
	uintptr_t	lo;
	uintptr_t	hi;

	if (page == 0)
		page = (Size) sysconf(_SC_PAGESIZE);
	if (ptr == NULL)
		return false;
	lo = TYPEALIGN((uintptr_t) page, (uintptr_t) ptr);
	hi = TYPEALIGN_DOWN((uintptr_t) page, (uintptr_t) ptr + len);
	if (hi <= lo)
		return false;
	r->start = (char *) lo;
	r->len = hi - lo;
	return true;
}

static AifPrefault *
helper_start(int advice, MemoryContext owner, void *const *ptrs, const Size *lens, int n)
{
	static long online = 0;
	AifPrefault *pf;
	Size		total = 0;
	sigset_t	all;
	sigset_t	old;
	bool		started;

	if (online == 0)
		online = sysconf(_SC_NPROCESSORS_ONLN);
	for (int i = 0; i < n; i++)
		total += lens[i];
	if (online < 2 || total < AIF_PREFAULT_MIN_BYTES)
		return NULL;
	pf = MemoryContextAllocZero(owner, offsetof(AifPrefault, range) +
								sizeof(PrefaultRange) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (whole_pages(ptrs[i], lens[i], &pf->range[pf->nranges]))
			pf->nranges++;
	if (pf->nranges == 0)
	{
		pfree(pf);
		return NULL;
	}
	pf->advice = advice;

	/* the helper inherits a mask that blocks every signal */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	started = pthread_create(&pf->tid, NULL, PrefaultThread, pf) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started)
	{
		pfree(pf);
		return NULL;
	}
	pf->cb.func = PrefaultResetCallback;
	pf->cb.arg = pf;
	MemoryContextRegisterResetCallback(owner, &pf->cb);
	return pf;
}

AifPrefault *
AifPrefaultStartPair(MemoryContext owner, void *ptr1, Size len1, void *ptr2, Size len2)
{
	void	   *ptrs[2] = {ptr1, ptr2};
	Size		lens[2] = {len1, len2};

	return helper_start(MADV_POPULATE_WRITE, owner, ptrs, lens, 2);
}

AifPrefault *
AifPrefaultStart(MemoryContext owner, void *ptr, Size len)
{
	return helper_start(MADV_POPULATE_WRITE, owner, &ptr, &len, 1);
}

AifPrefault *
AifReleaseStart(MemoryContext owner, void *const *ptrs, const Size *lens, int n)
{
	return helper_start(MADV_DONTNEED, owner, ptrs, lens, n);
}

void
AifPrefaultWait(AifPrefault *pf)
{
	if (pf != NULL)
		PrefaultJoin(pf);
}

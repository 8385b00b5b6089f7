/*-------------------------------------------------------------------------
 *
 * bigmem.c
 *	  Large buffers mapped for themselves (see bigmem.h).
 *
 * Each buffer is a mapping whose first page holds a header pointing to
 * its tracking entry, palloc'd in the owner context with a reset callback
 * that unmaps the buffer if it is still mapped then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/bigmem.h"
#include "utils/memutils.h"

#define BIGMEM_MAGIC 0x41494642		/* "AIFB" */

typedef struct BigTrack
{
	char	   *base;			/* the mapping, header page first */
	Size		maplen;
	bool		mapped;			/* still ours to unmap */
	MemoryContextCallback cb;
} BigTrack;

typedef struct BigHeader
{
	uint32		magic;
	BigTrack   *track;
} BigHeader;

/* what a detached helper unmaps */
typedef struct BigUnmap
{
	int			n;
	struct
	{
		char	   *base;
		Size		len;
	}			map[FLEXIBLE_ARRAY_MEMBER];
} BigUnmap;

static Size
page_size(void)
{
	static Size page = 0;

	if (page == 0)
		page = (Size) sysconf(_SC_PAGESIZE);
	return page;
}

static BigTrack *
big_track(void *ptr)
{
	BigHeader  *h = (BigHeader *) ((char *) ptr - page_size());

	if (h->magic != BIGMEM_MAGIC || h->track->base != (char *) h || !h->track->mapped)
		elog(ERROR, "not a mapped training buffer");
	return h->track;
}

static void
map_failed(Size maplen)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory"),
			 errdetail("Failed to map %zu bytes for training data.", maplen),
			 errhint("Lower aifactory.train_memory, or free memory on the server.")));
}

static void
big_reset_callback(void *arg)
{
	BigTrack   *t = (BigTrack *) arg;

	if (t->mapped)
		(void) munmap(t->base, t->maplen);
	t->mapped = false;
}

void *
AifBigAlloc(MemoryContext owner, Size len)
{
	BigTrack   *t = MemoryContextAllocZero(owner, sizeof(BigTrack));
	Size		maplen = page_size() + TYPEALIGN(page_size(), Max(len, 1));
	char	   *base;

	base = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		map_failed(maplen);
	t->base = base;
	t->maplen = maplen;
	t->mapped = true;
	((BigHeader *) base)->magic = BIGMEM_MAGIC;
	((BigHeader *) base)->track = t;
	t->cb.func = big_reset_callback;
	t->cb.arg = t;
	MemoryContextRegisterResetCallback(owner, &t->cb);
	return base + page_size();
}

void *
AifBigResize(void *ptr, Size len)
{
	BigTrack   *t = big_track(ptr);
	Size		maplen = page_size() + TYPEALIGN(page_size(), Max(len, 1));
	char	   *base;

	if (maplen == t->maplen)
		return ptr;
	base = mremap(t->base, t->maplen, maplen, MREMAP_MAYMOVE);
	if (base == MAP_FAILED)
		map_failed(maplen);
	t->base = base;
	t->maplen = maplen;
	return base + page_size();
}

void
AifBigFree(void *ptr)
{
	BigTrack   *t = big_track(ptr);

	(void) munmap(t->base, t->maplen);
	t->mapped = false;
}

static void *
big_unmap_thread(void *arg)
{
	BigUnmap   *u = (BigUnmap *) arg;

	for (int i = 0; i < u->n; i++)
		(void) munmap(u->map[i].base, u->map[i].len);
	free(u);
	return NULL;
}

void
AifBigFreeAsync(void *const *ptrs, int n)
{
	BigUnmap   *u;
	pthread_attr_t attr;
	pthread_t	tid;
	sigset_t	all;
	sigset_t	old;
	bool		started = false;

	if (n <= 0)
		return;
	/* malloc'd: the helper frees it */
	u = malloc(offsetof(BigUnmap, map) + sizeof(u->map[0]) * n);
	if (u == NULL)
	{
		for (int i = 0; i < n; i++)
			AifBigFree(ptrs[i]);
		return;
	}
	u->n = n;
	for (int i = 0; i < n; i++)
	{
		BigTrack   *t = big_track(ptrs[i]);

		u->map[i].base = t->base;
		u->map[i].len = t->maplen;
		t->mapped = false;		/* the helper's now */
	}

	if (pthread_attr_init(&attr) == 0)
	{
		if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0)
		{
			/* the helper inherits a mask that blocks every signal */
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			started = pthread_create(&tid, &attr, big_unmap_thread, u) == 0;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		pthread_attr_destroy(&attr);
	}
	if (!started)
		big_unmap_thread(u);
}

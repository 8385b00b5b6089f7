/*-------------------------------------------------------------------------
 *
 * bigmem.c
 *	  Large allocations backed by transparent huge pages.
 *
 * An in-memory fit writes a few hundred megabytes of freshly allocated
 * memory (the loaded rows, then the training matrices): with 4 kB pages
 * that is one page fault per 4 kB -- about 100,000 faults for 1M rows of
 * 20 features, a tenth of the whole train() call -- and as many page-table
 * entries to tear down when the memory is freed.  Where the kernel's
 * transparent huge pages are in "madvise" mode (Debian's default), asking
 * for them on the range makes it fault 2 MB at a time.  The advice only
 * sets a flag on the mapping; where it is not supported or refused,
 * nothing changes but the speed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>

#include "core/bigmem.h"
#include "utils/memutils.h"

/* the huge page size of x86-64 and arm64 (with 4 kB base pages) */
#define AIF_HUGE_PAGE		((Size) 2 * 1024 * 1024)

/* smaller allocations are not worth a system call */
#define AIF_BIG_MIN			((Size) 4 * AIF_HUGE_PAGE)

void
AifAdviseHugePages(void *p, Size size)
{
#ifdef MADV_HUGEPAGE
	uintptr_t	start = TYPEALIGN(AIF_HUGE_PAGE, (uintptr_t) p);
	uintptr_t	end = TYPEALIGN_DOWN(AIF_HUGE_PAGE, (uintptr_t) p + size);

	if (size >= AIF_BIG_MIN && end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#endif
}

void *
AifAllocBig(Size size)
{
	void	   *p = MemoryContextAllocHuge(CurrentMemoryContext, size);

	AifAdviseHugePages(p, size);
	return p;
}

/*-------------------------------------------------------------------------
 *
 * shim.c
 *	  libc implementations behind the unit-test postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

ShimError	shim_error;
bool		shim_error_raised = false;
sigjmp_buf *shim_error_handler = NULL;

/* The error being built by ereport, between errstart and errfinish. */
static ShimError pending;

/*
 * Out of memory is not something a numerics test can recover from, and
 * PostgreSQL would raise ERROR; ending the program keeps the shim simple.
 */
static void *
ShimCheckAlloc(void *p, Size size)
{
	if (p == NULL && size > 0)
	{
		fprintf(stderr, "pgshim: out of memory allocating %zu bytes\n", size);
		exit(2);
	}
	return p;
}

void *
palloc(Size size)
{
	/* PostgreSQL rejects requests above MaxAllocSize; mirror that. */
	if (size > (Size) 0x3fffffff)
	{
		fprintf(stderr, "pgshim: invalid memory alloc request size %zu\n", size);
		exit(2);
	}
	return ShimCheckAlloc(malloc(size > 0 ? size : 1), size);
}

void *
palloc0(Size size)
{
	void	   *p = palloc(size);

	memset(p, 0, size);
	return p;
}

/* palloc with flags; MCXT_ALLOC_HUGE allows more than MaxAllocSize. */
void *
palloc_extended(Size size, int flags)
{
	void	   *p;

	if (!(flags & MCXT_ALLOC_HUGE) && size > (Size) 0x3fffffff)
	{
		fprintf(stderr, "pgshim: invalid memory alloc request size %zu\n", size);
		exit(2);
	}
	p = malloc(size > 0 ? size : 1);
	if (p == NULL && (flags & MCXT_ALLOC_NO_OOM))
		return NULL;
	ShimCheckAlloc(p, size);
	if (flags & MCXT_ALLOC_ZERO)
		memset(p, 0, size);
	return p;
}

void *
repalloc(void *pointer, Size size)
{
	if (pointer == NULL)
	{
		fprintf(stderr, "pgshim: repalloc of NULL\n");
		exit(2);
	}
	return ShimCheckAlloc(realloc(pointer, size > 0 ? size : 1), size);
}

void
pfree(void *pointer)
{
	if (pointer == NULL)
	{
		fprintf(stderr, "pgshim: pfree of NULL\n");
		exit(2);
	}
	free(pointer);
}

const char *
shim_unpack_sqlstate(int sqlerrcode)
{
	static char buf[6];
	int			i;

	for (i = 0; i < 5; i++)
	{
		buf[i] = (char) ((sqlerrcode & 0x3F) + '0');
		sqlerrcode >>= 6;
	}
	buf[5] = '\0';
	return buf;
}

void
shim_errstart(int elevel, const char *filename, int lineno)
{
	memset(&pending, 0, sizeof(pending));
	pending.elevel = elevel;
	pending.sqlerrcode = elevel >= ERROR ? ERRCODE_INTERNAL_ERROR : 0;
	pending.filename = filename;
	pending.lineno = lineno;
}

int
errcode(int sqlerrcode)
{
	pending.sqlerrcode = sqlerrcode;
	return 0;
}

#define SHIM_FORMAT_INTO(field, fmt) \
	do { \
		va_list		ap; \
		va_start(ap, fmt); \
		vsnprintf((field), sizeof(field), (fmt), ap); \
		va_end(ap); \
	} while (0)

int
errmsg(const char *fmt,...)
{
	SHIM_FORMAT_INTO(pending.message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	SHIM_FORMAT_INTO(pending.message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	SHIM_FORMAT_INTO(pending.detail, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	SHIM_FORMAT_INTO(pending.hint, fmt);
	return 0;
}

/*
 * Below ERROR a report is only printed (as a TAP comment, so it cannot
 * break the TAP stream).  At ERROR the armed SHIM_TRY handler gets it; an
 * error nobody expected ends the program with a non-zero status, which
 * the harness counts as a failure.
 */
void
shim_errfinish(void)
{
	if (pending.elevel < ERROR)
	{
		printf("# pgshim %s: %s\n", pending.elevel >= WARNING ? "WARNING" : "NOTICE",
			   pending.message);
		return;
	}
	shim_error = pending;
	if (shim_error_handler != NULL)
		siglongjmp(*shim_error_handler, 1);
	fflush(stdout);
	fprintf(stderr, "pgshim: unexpected ERROR at %s:%d: [%s] %s\n",
			pending.filename, pending.lineno,
			shim_unpack_sqlstate(pending.sqlerrcode), pending.message);
	if (pending.detail[0])
		fprintf(stderr, "DETAIL:  %s\n", pending.detail);
	if (pending.hint[0])
		fprintf(stderr, "HINT:  %s\n", pending.hint);
	printf("not ok - unexpected ERROR: %s\n", pending.message);
	exit(1);
}

void
shim_elog(int elevel, const char *filename, int lineno, const char *fmt,...)
{
	shim_errstart(elevel, filename, lineno);
	SHIM_FORMAT_INTO(pending.message, fmt);
	shim_errfinish();
}

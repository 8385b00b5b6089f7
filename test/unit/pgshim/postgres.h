/*-------------------------------------------------------------------------
 *
 * postgres.h (unit-test shim)
 *	  The small part of PostgreSQL that src/algorithms/ may use, rebuilt on
 *	  libc so the numerics can be compiled and tested outside the server.
 *
 * palloc and friends map to malloc; an allocation failure ends the test
 * program.  elog/ereport at ERROR or above either jump to the handler
 * armed by SHIM_TRY (so a test can assert that an error was raised, and
 * with which SQLSTATE) or, when none is armed, print the message and
 * exit(1) so the test harness reports a failure.
 *
 * Only what algorithms/ is allowed to touch belongs here: if code there
 * needs more of PostgreSQL, that is a design question, not a shim one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_PGSHIM_POSTGRES_H
#define AIF_PGSHIM_POSTGRES_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef int8_t int8;
typedef int16_t int16;
typedef int32_t int32;
typedef int64_t int64;
typedef uint8_t uint8;
typedef uint16_t uint16;
typedef uint32_t uint32;
typedef uint64_t uint64;
typedef size_t Size;

#define INT64CONST(x)	INT64_C(x)
#define UINT64CONST(x)	UINT64_C(x)
#define PG_INT32_MAX	INT32_MAX
#define PG_INT64_MAX	INT64_MAX
#define Min(x, y)		((x) < (y) ? (x) : (y))
#define Max(x, y)		((x) > (y) ? (x) : (y))
#define Abs(x)			((x) >= 0 ? (x) : -(x))
#define lengthof(array) (sizeof (array) / sizeof ((array)[0]))
#define pg_attribute_unused() __attribute__((unused))
#define likely(x)		__builtin_expect((x) != 0, 1)
#define unlikely(x)		__builtin_expect((x) != 0, 0)
#define pg_unreachable() __builtin_unreachable()

/* Memory: malloc underneath, failure is fatal for the test program. */
extern void *palloc(Size size);
extern void *palloc0(Size size);
extern void *repalloc(void *pointer, Size size);
extern void pfree(void *pointer);

/* palloc_extended flags (utils/palloc.h); HUGE lifts the 1 GB limit. */
#define MCXT_ALLOC_HUGE		0x01
#define MCXT_ALLOC_NO_OOM	0x02
#define MCXT_ALLOC_ZERO		0x04
extern void *palloc_extended(Size size, int flags);

/* Error levels, in PostgreSQL's order. */
#define DEBUG1		14
#define LOG			15
#define INFO		17
#define NOTICE		18
#define WARNING		19
#define ERROR		21
#define FATAL		22
#define PANIC		23

/* SQLSTATEs packed as PostgreSQL packs them. */
#define PGSIXBIT(ch)	(((ch) - '0') & 0x3F)
#define MAKE_SQLSTATE(ch1,ch2,ch3,ch4,ch5) \
	(PGSIXBIT(ch1) + (PGSIXBIT(ch2) << 6) + (PGSIXBIT(ch3) << 12) + \
	 (PGSIXBIT(ch4) << 18) + (PGSIXBIT(ch5) << 24))

#define ERRCODE_INTERNAL_ERROR				MAKE_SQLSTATE('X','X','0','0','0')
#define ERRCODE_DATA_CORRUPTED				MAKE_SQLSTATE('X','X','0','0','1')
#define ERRCODE_PROGRAM_LIMIT_EXCEEDED		MAKE_SQLSTATE('5','4','0','0','0')
#define ERRCODE_INVALID_PARAMETER_VALUE		MAKE_SQLSTATE('2','2','0','2','3')
#define ERRCODE_DATA_EXCEPTION				MAKE_SQLSTATE('2','2','0','0','0')
#define ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE	MAKE_SQLSTATE('2','2','0','0','3')
#define ERRCODE_OUT_OF_MEMORY				MAKE_SQLSTATE('5','3','2','0','0')
#define ERRCODE_FEATURE_NOT_SUPPORTED		MAKE_SQLSTATE('0','A','0','0','0')
#define ERRCODE_INSUFFICIENT_RESOURCES		MAKE_SQLSTATE('5','3','0','0','0')

/* Error reporting: both ereport(ERROR, (a, b)) and ereport(ERROR, a, b). */
extern void shim_errstart(int elevel, const char *filename, int lineno);
extern void shim_errfinish(void);
extern int	errcode(int sqlerrcode);
extern int	errmsg(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern int	errmsg_internal(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern int	errdetail(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern int	errhint(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void shim_elog(int elevel, const char *filename, int lineno,
					  const char *fmt,...) __attribute__((format(printf, 4, 5)));

#define ereport(elevel, ...) \
	do { \
		shim_errstart((elevel), __FILE__, __LINE__); \
		(void) (__VA_ARGS__); \
		shim_errfinish(); \
		if ((elevel) >= ERROR) \
			pg_unreachable(); \
	} while (0)

#define elog(elevel, ...) \
	do { \
		shim_elog((elevel), __FILE__, __LINE__, __VA_ARGS__); \
		if ((elevel) >= ERROR) \
			pg_unreachable(); \
	} while (0)

/*
 * What the last ERROR said; SHIM_TRY arms a handler so tests can check it.
 *
 *		SHIM_TRY();
 *			call_that_should_fail();
 *		SHIM_END_TRY();
 *		ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_..., "...");
 *
 * Memory allocated inside the failed call is leaked, as it would be until
 * PostgreSQL reset the memory context; that is harmless for a test.
 */
typedef struct ShimError
{
	int			elevel;
	int			sqlerrcode;
	char		message[1024];
	char		detail[1024];
	char		hint[1024];
	const char *filename;
	int			lineno;
} ShimError;

extern ShimError shim_error;
extern bool shim_error_raised;
extern sigjmp_buf *shim_error_handler;

#define SHIM_TRY() \
	do { \
		sigjmp_buf	shim_local_jmp_; \
		sigjmp_buf *shim_saved_jmp_ = shim_error_handler; \
		shim_error_raised = false; \
		if (sigsetjmp(shim_local_jmp_, 0) == 0) \
		{ \
			shim_error_handler = &shim_local_jmp_

#define SHIM_END_TRY() \
		} \
		else \
			shim_error_raised = true; \
		shim_error_handler = shim_saved_jmp_; \
	} while (0)

/* SQLSTATE as five characters, for test diagnostics. */
extern const char *shim_unpack_sqlstate(int sqlerrcode);

#endif							/* AIF_PGSHIM_POSTGRES_H */

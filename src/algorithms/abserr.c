/*-------------------------------------------------------------------------
 *
 * abserr.c
 *	  Exact squared and absolute errors from pilot residuals (abserr.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#define LAPACK_COMPLEX_STRUCTURE
#include <cblas.h>

#include "algorithms/abserr.h"

AbsErrState *
AbsErrCreate(int m)
{
	AbsErrState *state = palloc0(sizeof(AbsErrState));

	if (m < 1 || m > 4096)
		elog(ERROR, "abserr: %d columns out of range", m);
	state->m = m;
	state->capacity = 4;
	state->groups = palloc0(sizeof(AbsErrGroup) * state->capacity);
	state->buf = palloc(sizeof(double) * ABSERR_BLOCK * m);
	return state;
}

static void
group_init(AbsErrGroup *g, int m)
{
	g->pilot = palloc0(sizeof(double) * m);
	g->sx = palloc0(sizeof(double) * m);
	g->absmax = palloc0(sizeof(double) * m);
	g->rx = palloc0(sizeof(double) * m);
	g->gram = palloc0(sizeof(double) * m * m);
}

/* Fold the buffered rows' x x' into the current group's gram. */
static void
flush(AbsErrState *state)
{
	AbsErrGroup *g;

	if (state->nbuf == 0)
		return;
	g = &state->groups[state->ngroups - 1];
	cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, state->m, state->nbuf,
				1.0, state->buf, ABSERR_BLOCK, 1.0, g->gram, state->m);
	state->nbuf = 0;
}

static AbsErrGroup *
new_group(AbsErrState *state)
{
	if (state->ngroups == state->capacity)
	{
		state->capacity *= 2;
		state->groups = repalloc(state->groups, sizeof(AbsErrGroup) * state->capacity);
	}
	memset(&state->groups[state->ngroups], 0, sizeof(AbsErrGroup));
	group_init(&state->groups[state->ngroups], state->m);
	return &state->groups[state->ngroups++];
}

void
AbsErrPilot(AbsErrState *state, const double *pilot, double tau)
{
	AbsErrGroup *g;

	flush(state);
	g = new_group(state);
	memcpy(g->pilot, pilot, sizeof(double) * state->m);
	g->tau = tau;
}

bool
AbsErrAdd(AbsErrState *state, const double *x, double y)
{
	AbsErrGroup *g;
	int			m = state->m;
	double		r = y;
	double		s;

	if (state->ngroups == 0)
		return false;
	g = &state->groups[state->ngroups - 1];
	for (int j = 0; j < m; j++)
		r -= g->pilot[j] * x[j];
	if (!(fabs(r) > g->tau))
		return false;
	s = r > 0 ? 1.0 : -1.0;
	g->rows++;
	g->sy += s * y;
	g->r2 += r * r;
	for (int j = 0; j < m; j++)
	{
		double		a = fabs(x[j]);

		g->sx[j] += s * x[j];
		g->rx[j] += r * x[j];
		if (a > g->absmax[j])
			g->absmax[j] = a;
		state->buf[(Size) j * ABSERR_BLOCK + state->nbuf] = x[j];
	}
	if (++state->nbuf == ABSERR_BLOCK)
		flush(state);
	return true;
}

void
AbsErrMerge(AbsErrState *into, AbsErrState *from)
{
	int			m = into->m;

	if (from->m != m)
		elog(ERROR, "abserr: cannot merge states of %d and %d columns", m, from->m);
	flush(from);
	flush(into);
	/* no rows are added after a merge: the groups are simply appended */
	for (int i = 0; i < from->ngroups; i++)
	{
		AbsErrGroup *src = &from->groups[i];
		AbsErrGroup *dst = new_group(into);

		memcpy(dst->pilot, src->pilot, sizeof(double) * m);
		dst->tau = src->tau;
		dst->rows = src->rows;
		dst->sy = src->sy;
		dst->r2 = src->r2;
		memcpy(dst->sx, src->sx, sizeof(double) * m);
		memcpy(dst->absmax, src->absmax, sizeof(double) * m);
		memcpy(dst->rx, src->rx, sizeof(double) * m);
		memcpy(dst->gram, src->gram, sizeof(double) * m * m);
	}
}

/* layout: m, ngroups, then per group: tau, rows, sy, r2, pilot, sx, absmax, rx, gram */
Size
AbsErrSerializedSize(AbsErrState *state)
{
	int			m = state->m;

	return sizeof(double) * (2 + (Size) state->ngroups * (4 + 4 * m + (Size) m * m));
}

void
AbsErrSerialize(AbsErrState *state, char *dst)
{
	int			m = state->m;
	double	   *d = (double *) dst;
	Size		k = 0;
	double		v;

	flush(state);
	/* dst may be unaligned: write through memcpy */
#define PUT(x) do { v = (x); memcpy(d + k, &v, sizeof(double)); k++; } while (0)
	PUT(m);
	PUT(state->ngroups);
	for (int i = 0; i < state->ngroups; i++)
	{
		AbsErrGroup *g = &state->groups[i];

		PUT(g->tau);
		PUT((double) g->rows);
		PUT(g->sy);
		PUT(g->r2);
		for (int j = 0; j < m; j++)
			PUT(g->pilot[j]);
		for (int j = 0; j < m; j++)
			PUT(g->sx[j]);
		for (int j = 0; j < m; j++)
			PUT(g->absmax[j]);
		for (int j = 0; j < m; j++)
			PUT(g->rx[j]);
		for (int j = 0; j < m * m; j++)
			PUT(g->gram[j]);
	}
#undef PUT
}

AbsErrState *
AbsErrDeserialize(const char *src, Size len)
{
	const double *d = (const double *) src;
	Size		k = 0;
	double		v;
	int			m;
	int			ngroups;
	AbsErrState *state;

#define GET() (memcpy(&v, d + k, sizeof(double)), k++, v)
	if (len < 2 * sizeof(double))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid error-sum state")));
	m = (int) GET();
	ngroups = (int) GET();
	if (m < 1 || m > 4096 || ngroups < 0 || ngroups > 1000000 ||
		len != sizeof(double) * (2 + (Size) ngroups * (4 + 4 * m + (Size) m * m)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid error-sum state")));
	state = AbsErrCreate(m);
	for (int i = 0; i < ngroups; i++)
	{
		AbsErrGroup *g = new_group(state);

		g->tau = GET();
		g->rows = (int64) GET();
		g->sy = GET();
		g->r2 = GET();
		for (int j = 0; j < m; j++)
			g->pilot[j] = GET();
		for (int j = 0; j < m; j++)
			g->sx[j] = GET();
		for (int j = 0; j < m; j++)
			g->absmax[j] = GET();
		for (int j = 0; j < m; j++)
			g->rx[j] = GET();
		for (int j = 0; j < m * m; j++)
			g->gram[j] = GET();
	}
#undef GET
	return state;
}

bool
AbsErrFinish(AbsErrState *state, const double *b, double *sse, double *sae,
			 int64 *rows)
{
	int			m = state->m;
	double	   *delta = palloc(sizeof(double) * m);
	double	   *gd = palloc(sizeof(double) * m);

	flush(state);
	*sse = 0;
	*sae = 0;
	*rows = 0;
	for (int i = 0; i < state->ngroups; i++)
	{
		AbsErrGroup *g = &state->groups[i];
		double		bound = 0;
		double		sy = g->sy;
		double		quad;

		if (g->rows == 0)
			continue;
		for (int j = 0; j < m; j++)
		{
			delta[j] = b[j] - g->pilot[j];
			bound += g->absmax[j] * fabs(delta[j]);
		}
		if (!(bound < g->tau))
			return false;
		for (int j = 0; j < m; j++)
			sy -= g->sx[j] * b[j];
		*sae += sy;
		/* r^2 - 2 (r x).d + d' G d, G symmetric from its upper triangle */
		cblas_dsymv(CblasColMajor, CblasUpper, m, 1.0, g->gram, m, delta, 1, 0.0, gd, 1);
		quad = cblas_ddot(m, delta, 1, gd, 1);
		*sse += g->r2 - 2 * cblas_ddot(m, g->rx, 1, delta, 1) + quad;
		*rows += g->rows;
	}
	pfree(delta);
	pfree(gd);
	return true;
}

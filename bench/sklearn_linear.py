#!/usr/bin/python3
"""The scikit-learn peer of aifactory's linear regression: export the rows out of
PostgreSQL into a numpy array, fit sklearn.linear_model.LinearRegression on it.

Two ways to export, both with psycopg2 over the libpq environment's connection:
  copy    COPY (query) TO STDOUT (FORMAT binary) into memory, read by strided numpy views
  cursor  a server-side (named) cursor, fetchmany() in batches, np.array per batch

Used by bench/linear.py; also runs alone against a database that holds the bench table:
    PGHOST=127.0.0.1 PGPORT=5433 PGUSER=postgres PGDATABASE=bench /usr/bin/python3 bench/sklearn_linear.py
Run it with Debian's /usr/bin/python3 (python3-sklearn, python3-psycopg2), not another
python3 on PATH.
"""

import io
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

FEATURES = ["f%d" % i for i in range(1, 21)]
TARGET = "y"
EXPORT_QUERY = "SELECT %s, %s FROM bench" % (", ".join(FEATURES), TARGET)

PGCOPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def export_copy(conn, query=EXPORT_QUERY, ncols=len(FEATURES) + 1):
    """Binary COPY into memory, then strided numpy views of it: float64 array (n, ncols).
    Every value must be a non-NULL float8."""
    buf = io.BytesIO()
    with conn.cursor() as cur:
        cur.copy_expert("COPY (%s) TO STDOUT (FORMAT binary)" % query, buf)
    conn.commit()
    data = buf.getbuffer()
    if bytes(data[:11]) != PGCOPY_SIGNATURE:
        raise ValueError("not a binary COPY stream")
    _flags, extlen = struct.unpack_from(">ii", data, 11)
    start = 19 + extlen
    rowsize = 2 + ncols * (4 + 8)
    body = len(data) - start - 2
    n, rest = divmod(body, rowsize)
    if rest != 0 or struct.unpack_from(">h", data, len(data) - 2)[0] != -1:
        raise ValueError("unexpected binary COPY layout (a NULL or a non-float8 column?)")
    # every row: int16 field count, then per field int32 length (8) and a big-endian float8
    nfields = np.ndarray((n,), dtype=">i2", buffer=data, offset=start, strides=(rowsize,))
    lengths = np.ndarray((n, ncols), dtype=">i4", buffer=data, offset=start + 2,
                         strides=(rowsize, 12))
    values = np.ndarray((n, ncols), dtype=">f8", buffer=data, offset=start + 6,
                        strides=(rowsize, 12))
    if n and not (np.all(nfields == ncols) and np.all(lengths == 8)):
        raise ValueError("unexpected binary COPY row (a NULL or a non-float8 column?)")
    out = values.astype(np.float64, order="C")
    del nfields, lengths, values
    data.release()
    return out


def export_cursor(conn, query=EXPORT_QUERY, batch=100000):
    """A server-side cursor, fetched in batches: float64 array (n, ncols)."""
    chunks = []
    with conn.cursor(name="aif_bench_export") as cur:
        cur.itersize = batch
        cur.execute(query)
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                break
            chunks.append(np.array(rows, dtype=np.float64))
    conn.commit()
    return np.vstack(chunks)


EXPORTERS = {"copy": export_copy, "cursor": export_cursor}
EXPORT_LABELS = {"copy": "binary COPY", "cursor": "server-side cursor"}


def fit(a):
    """LinearRegression on features a[:, :-1], target a[:, -1]: (intercept, coef[])."""
    from sklearn.linear_model import LinearRegression
    lr = LinearRegression()
    lr.fit(a[:, :-1], a[:, -1])
    return float(lr.intercept_), [float(c) for c in lr.coef_]


def timed(fn, *args):
    t0 = time.perf_counter()
    r = fn(*args)
    return (time.perf_counter() - t0) * 1000.0, r


def blas_info():
    """What threadpoolctl says about the BLAS/OpenMP libraries numpy and scipy loaded."""
    info = {"env": {k: os.environ[k] for k in sorted(os.environ)
                    if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO"))}}
    try:
        import scipy.linalg  # noqa: F401  (load its BLAS/LAPACK)
        import sklearn.linear_model  # noqa: F401
        from threadpoolctl import threadpool_info
        info["threadpoolctl"] = [
            {k: v for k, v in lib.items()
             if k in ("user_api", "internal_api", "prefix", "filepath", "version",
                      "num_threads", "threading_layer", "architecture")}
            for lib in threadpool_info()]
    except ImportError:
        info["threadpoolctl"] = None
    return info


def blas_summary(info):
    libs = info.get("threadpoolctl")
    if libs is None:
        s = "threadpoolctl not available"
    elif not libs:
        s = "threadpoolctl found no BLAS"
    else:
        s = "; ".join("%s %s (%s, %s threads%s)" % (
            lib.get("internal_api"), lib.get("version") or "",
            os.path.basename(lib.get("filepath") or "?"), lib.get("num_threads"),
            ", " + lib["architecture"] if lib.get("architecture") else "") for lib in libs)
    if info["env"]:
        s += "; environment: " + " ".join("%s=%s" % kv for kv in info["env"].items())
    return s


def run(conn, runs=None, warmups=None, methods=("copy", "cursor"), log=print):
    """Time each export method and the fit.  Returns a dict of per-run times (ms), the chosen
    (faster) export, per-run export+fit totals, and the fitted coefficients."""
    runs = benchlib.RUNS if runs is None else runs
    warmups = benchlib.WARMUPS if warmups is None else warmups
    res = {"export_ms": {}, "fit_ms": [], "runs": runs, "warmups": warmups}
    # the fit needs one array; each copy round fits the array it just exported
    a = None
    for m in methods:
        res["export_ms"][m] = []
        for i in range(warmups + runs):
            a = None  # free the previous array first: peak memory stays at one copy
            ms, a = timed(EXPORTERS[m], conn)
            if i >= warmups:
                res["export_ms"][m].append(ms)
            if m == methods[0]:
                fms, coef = timed(fit, a)
                if i >= warmups:
                    res["fit_ms"].append(fms)
            log("  %s export %s%d: %.0f ms%s" % (
                EXPORT_LABELS[m], "warm-up " if i < warmups else "run ",
                i + 1 - (warmups if i >= warmups else 0), ms,
                ("; fit %.0f ms" % fms) if m == methods[0] else ""))
    res["rows"], res["cols"] = a.shape
    res["intercept"], res["coef"] = coef
    med = {m: benchlib.median(v) for m, v in res["export_ms"].items()}
    res["export_method"] = min(med, key=med.get)
    res["total_ms"] = [e + f for e, f in zip(res["export_ms"][res["export_method"]],
                                             res["fit_ms"])]
    return res


def main():
    conn = benchlib.connect(autocommit=False)
    res = run(conn)
    info = blas_info()
    for m, v in res["export_ms"].items():
        print("export %-20s median %8.1f ms" % (EXPORT_LABELS[m], benchlib.median(v)))
    print("fit alone                   median %8.1f ms" % benchlib.median(res["fit_ms"]))
    print("%-27s median %8.1f ms" % ("export (%s) + fit" % res["export_method"],
                                      benchlib.median(res["total_ms"])))
    print("intercept %.17g" % res["intercept"])
    print("coef " + " ".join("%.17g" % c for c in res["coef"]))
    print("BLAS: " + blas_summary(info))


if __name__ == "__main__":
    main()

"""What the PyTorch sides of the benchmarks share: running on OpenBLAS's OpenMP build (the BLAS
arith links) and proving it from /proc/self/maps, and measuring how much of the machine other
processes took while a benchmark ran.

Use: reexec_with_openblas_openmp(threads, "seed001_torch") first thing in main (the process
re-executes itself once with LD_LIBRARY_PATH set); blas_report() after torch is imported;
cpu_snapshot() before timing and cpu_other_share(snapshot) after.
"""

import os
import sys

OPENBLAS_OMP_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
REEXEC_MARK = "ARITH_BENCH_REEXEC"


def reexec_with_openblas_openmp(threads, prog):
    """Re-runs this process with the OpenMP OpenBLAS first on the library path (once)."""
    if os.environ.get(REEXEC_MARK) == "1":
        return
    if not os.path.isfile(os.path.join(OPENBLAS_OMP_DIR, "libblas.so.3")):
        sys.exit(f"{prog}: {OPENBLAS_OMP_DIR}/libblas.so.3 not found "
                 "(install libopenblas0-openmp, or pass --blas system)")
    env = dict(os.environ)
    old = env.get("LD_LIBRARY_PATH", "")
    env["LD_LIBRARY_PATH"] = OPENBLAS_OMP_DIR + (":" + old if old else "")
    env["OMP_NUM_THREADS"] = str(threads)
    env[REEXEC_MARK] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def loaded_libs(pattern_words):
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6:
                path = parts[5]
                base = os.path.basename(path)
                if any(w in base for w in pattern_words) and path not in libs:
                    libs.append(path)
    return libs


def blas_report():
    """(short name, detail dict) of the BLAS actually mapped into this process."""
    import ctypes
    libs = loaded_libs(("libblas", "libopenblas", "liblapack", "libmkl", "libblis"))
    detail = {"maps": [os.path.realpath(p) for p in libs]}
    blas3 = [p for p in libs if os.path.basename(p).startswith("libblas.so")]
    name = "unknown"
    if blas3:
        d = os.path.dirname(os.path.realpath(blas3[0]))
        name = {"openblas-openmp": "openblas-openmp", "openblas-pthread": "openblas-pthread",
                "blas": "reference-blas"}.get(os.path.basename(d), os.path.realpath(blas3[0]))
    if any("libopenblas" in os.path.basename(p) for p in libs):
        try:
            ob = ctypes.CDLL("libopenblas.so.0")  # the copy already loaded
            ob.openblas_get_config.restype = ctypes.c_char_p
            detail["openblas_config"] = ob.openblas_get_config().decode()
            detail["openblas_parallel"] = {0: "sequential", 1: "pthread", 2: "openmp"}.get(
                ob.openblas_get_parallel(), "?")
            detail["openblas_num_threads"] = ob.openblas_get_num_threads()
        except (OSError, AttributeError) as e:
            detail["openblas_error"] = str(e)
    return name, detail


def cpu_snapshot():
    """(machine busy jiffies, machine total jiffies, this process's jiffies incl. threads)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])                       # user nice system idle iowait irq softirq steal
    busy = total - v[3] - v[4]
    with open("/proc/self/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    mine = int(st[11]) + int(st[12])         # utime + stime (fields 14, 15)
    return busy, total, mine


def cpu_other_share(before):
    b1, t1, m1 = cpu_snapshot()
    b0, t0, m0 = before
    if t1 <= t0:
        return 0.0
    return round(max(0.0, (b1 - b0) - (m1 - m0)) / (t1 - t0), 3)


def require_openblas_openmp(prog):
    """Exits unless the BLAS mapped into this process (after torch is imported) is OpenBLAS's
    OpenMP build from OPENBLAS_OMP_DIR; returns blas_report()'s (name, detail)."""
    import json
    blas, detail = blas_report()
    ok = (blas == "openblas-openmp"
          and all(os.path.dirname(p) == OPENBLAS_OMP_DIR for p in detail["maps"]
                  if "blas" in os.path.basename(p))
          and detail.get("openblas_parallel") == "openmp")
    if not ok:
        sys.exit(f"{prog}: torch did not pick up the OpenMP OpenBLAS: " + json.dumps(detail))
    return blas, detail

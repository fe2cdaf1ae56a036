/* dist.h on MPI (ARITH_MPI), or on one process. */
#include "core/dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ARITH_MPI
#include <mpi.h>

static bool started = false;
static int rank = 0, size = 1, local_size = 1;

/* Whether a launcher (mpirun, mpiexec, srun) started this process as a rank: a process run
 * alone does not start MPI (an OpenMPI singleton would start a daemon, and refuses root). */
static bool launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return true;
    return false;
}

void dist_init(int *argc, char ***argv)
{
    if (!launched())
        return;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return; /* run alone */
    started = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL,
                            &local) == MPI_SUCCESS) {
        MPI_Comm_size(local, &local_size);
        MPI_Comm_free(&local);
    }
}

void dist_finalize(void)
{
    if (started)
        MPI_Finalize();
    started = false;
}

void dist_abort(int code)
{
    if (started && size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

bool dist_built_with_mpi(void)
{
    return true;
}

/* MPI counts are ints: large buffers go in pieces. */
enum { DIST_CHUNK = 1 << 28 };

void dist_sum_floats(float *x, size_t n)
{
    for (size_t at = 0; size > 1 && at < n; at += DIST_CHUNK) {
        int c = (int)(n - at < DIST_CHUNK ? n - at : DIST_CHUNK);
        MPI_Allreduce(MPI_IN_PLACE, x + at, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void dist_sum_doubles(double *x, size_t n)
{
    for (size_t at = 0; size > 1 && at < n; at += DIST_CHUNK) {
        int c = (int)(n - at < DIST_CHUNK ? n - at : DIST_CHUNK);
        MPI_Allreduce(MPI_IN_PLACE, x + at, c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
}

void dist_max_ints(int *x, size_t n)
{
    if (size > 1)
        MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
}

void dist_broadcast(void *data, size_t bytes, int root)
{
    for (size_t at = 0; size > 1 && at < bytes; at += DIST_CHUNK) {
        int c = (int)(bytes - at < DIST_CHUNK ? bytes - at : DIST_CHUNK);
        MPI_Bcast((char *)data + at, c, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void dist_gather(const void *mine, void *out, size_t bytes)
{
    if (size > 1)
        MPI_Gather(mine, (int)bytes, MPI_BYTE, out, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    else if (out)
        memcpy(out, mine, bytes);
}

void dist_barrier(void)
{
    if (size > 1)
        MPI_Barrier(MPI_COMM_WORLD);
}

#else /* one process */

static const int rank = 0, size = 1, local_size = 1;

void dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

void dist_finalize(void) {}

void dist_abort(int code)
{
    exit(code);
}

bool dist_built_with_mpi(void)
{
    return false;
}

void dist_sum_floats(float *x, size_t n)
{
    (void)x;
    (void)n;
}

void dist_sum_doubles(double *x, size_t n)
{
    (void)x;
    (void)n;
}

void dist_max_ints(int *x, size_t n)
{
    (void)x;
    (void)n;
}

void dist_broadcast(void *data, size_t bytes, int root)
{
    (void)data;
    (void)bytes;
    (void)root;
}

void dist_gather(const void *mine, void *out, size_t bytes)
{
    if (out)
        memcpy(out, mine, bytes);
}

void dist_barrier(void) {}

#endif

int dist_rank(void)
{
    return rank;
}

int dist_size(void)
{
    return size;
}

int dist_local_size(void)
{
    return local_size;
}

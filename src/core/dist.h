/* Several processes as one job: MPI where arith was built with it (scripts/setup --mpi), one
 * process otherwise. The same binary runs alone when no launcher started it: everything here
 * then answers rank 0 of 1, and every collective call is a copy or nothing.
 *
 * Only the thread that called dist_init calls MPI (MPI_THREAD_FUNNELED): OpenMP's threads work
 * inside each rank, between the collective calls. */
#ifndef ARITH_CORE_DIST_H
#define ARITH_CORE_DIST_H

#include <stdbool.h>
#include <stddef.h>

/* Starts MPI when built with it and a launcher (mpirun, mpiexec, srun) started the process;
 * alone, it stays one process without MPI. Call once, early in main. */
void dist_init(int *argc, char ***argv);
/* Ends MPI (call before a normal exit); dist_abort ends every rank of the job at once. */
void dist_finalize(void);
void dist_abort(int code);

int dist_rank(void);
int dist_size(void);
/* Ranks on this machine (to share its cores), and whether arith was built with MPI. */
int dist_local_size(void);
bool dist_built_with_mpi(void);

/* In place, the same result on every rank. Sums of floats use MPI's order, which is fixed for
 * a fixed rank count: runs repeat bit for bit. */
void dist_sum_floats(float *x, size_t n);
void dist_sum_doubles(double *x, size_t n);
void dist_max_ints(int *x, size_t n);
/* Rank `root`'s bytes to every rank. */
void dist_broadcast(void *data, size_t bytes, int root);
/* Every rank's `bytes` bytes, in rank order, into rank 0's out (size * bytes; others: NULL). */
void dist_gather(const void *mine, void *out, size_t bytes);
void dist_barrier(void);

#endif

// A persistent thread pool for the engine's parallel loops (Parallel.forEachChunk,
// DispatchQueueHelper.run): workers spin for a short while after each job waiting for the
// next one, then sleep. At batch 1 a network issues ~100 splits per image about 100 µs
// apart; GCD parks its workers in the kernel between them, and waking them (futex, IPIs,
// scheduler) measured 8–9 % of all cycles. A worker that is still spinning picks the next
// job up in well under a microsecond. (pool.c is max pooling; this file is the threads.)
#ifndef CK_THREADPOOL_H
#define CK_THREADPOOL_H

#ifdef __cplusplus
extern "C" {
#endif

/// A job body: called once for each index of [0, n), from any thread.
typedef void (*ck_parallel_body)(void *context, int index);

/// Runs body(context, i) for every i in [0, n) exactly once and returns when all calls have
/// returned (their writes are visible to the caller). The calling thread takes part: it runs
/// index 0 first, then claims indices no worker has claimed yet, so a job never waits for a
/// sleeping worker to wake. Up to n − 1 workers take part; workers are created the first
/// time a job needs them (at most CK_POOL_MAX_WORKERS), never freed.
///
/// Returns 1 after running the job. Returns 0 without calling body at all when the pool is
/// running another job — a body submits a job of its own (nested), or another thread's job
/// is in flight (two sessions at once) — so the caller picks another way (serial or GCD);
/// the pool never blocks on itself. n <= 1 runs inline and returns 1.
int ck_parallel_try(int n, ck_parallel_body body, void *context);

/// ck_parallel_try, but a busy pool runs the job serially on the calling thread (indices in
/// order) instead of returning 0. Never deadlocks, including from inside a body.
void ck_parallel_for(int n, ck_parallel_body body, void *context);

/// 1 while the calling thread runs a job body (on a worker, or on the caller of
/// ck_parallel_try while its job runs), else 0. A nested submission that finds the pool
/// busy should run serially: every pool thread is already working.
int ck_parallel_in_job(void);

/// Workers created so far (tests, diagnostics).
int ck_pool_worker_count(void);

/// Times a pool thread found it had been descheduled (the machine is oversubscribed); each
/// one stops all spinning for a back-off period (pool_threads.c).
int ck_pool_preemptions(void);

/// 1 when idle workers may spin now: no preemption back-off is running and the machine's
/// other runnable threads (sampled from /proc/loadavg by callers) leave room for the last
/// job's threads. 0 means workers sleep right after each job, like GCD's.
int ck_pool_may_spin(void);

/// How long an idle worker spins before sleeping, in µs. The default (CK_POOL_SPIN_US, or
/// the environment's CNNCODES_POOL_SPIN_US read once) is used until this is called;
/// 0 makes workers sleep right after each job (GCD-like, for measurements). Workers never
/// spin while ck_pool_may_spin() is 0 (busy machine), nor when a job has more threads than
/// there are processors.
void ck_pool_set_spin_us(int microseconds);

/// Tests: 1 makes idle workers sleep on the condition variable every non-Linux build uses
/// instead of Linux's futex (so that path runs where CI runs); 0 goes back. Safe at any time:
/// once it was turned on, every wake-up signals both. No effect off Linux.
void ck_pool_use_condition_variable(int on);

enum {
    CK_POOL_MAX_WORKERS = 64,
    CK_POOL_SPIN_US = 100,
};

#ifdef __cplusplus
}
#endif
#endif

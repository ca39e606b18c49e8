// The engine's persistent thread pool (ck_threadpool.h says why it exists).
//
// One job at a time. The job is published as a single 64-bit claim word, (n << 32) | next:
// every thread (caller and workers) claims index `next` by compare-and-swap to next + 1 while
// next < n, and reads the body and context only after its claim succeeded. Because the word
// names its own bound, a worker that looked at an old job and was preempted can never claim
// past the end of a new one: its CAS either fails, or succeeds on the new job's word, and then
// (acquire on the word the caller released) it reads the new job's body and context —
// claiming an index of whichever job is live is always correct. `done` counts returned bodies;
// the caller spins until it reaches n, so a job's context (on the caller's stack) is never
// touched after the call returns: each index is claimed once and counted before it is
// released.
//
// Workers watch `epoch` (bumped once per job). After a job they took part in they spin on it
// for spin_us, then sleep (a futex on `epoch` on Linux, a condition variable elsewhere); the
// caller wakes them only when `sleepers` is non-zero, so in steady state a job costs two
// atomic stores and no system call. Lost wake-ups cannot happen: a worker increments
// `sleepers` then re-reads `epoch` (both seq_cst), the caller bumps `epoch` then reads
// `sleepers` (both seq_cst), so one of them sees the other; and the futex wait itself
// re-checks `epoch` in the kernel (the condition variable, under its mutex). A futex rather
// than a condition variable: the woken worker does not then block on the mutex the waker
// holds (measured ~4 % of EfficientNet-Lite0 batch 1 under load, where workers mostly sleep).
//
// The pool is a try-lock (`busy`): a second submitter — a body submitting a nested job, or
// another session's thread — is told so (ck_parallel_try returns 0) instead of waiting, so no
// submission can deadlock on the pool and a second session keeps its own parallelism (GCD).
#include "ck_threadpool.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static inline void cpu_relax(void) {}
#endif

/// Cache line size on x86-64 and most arm64; the contended words get a line each so that
/// claiming (claim), counting (done) and polling (epoch) do not invalidate each other.
#define CK_LINE 64

static struct {
    alignas(CK_LINE) _Atomic uint64_t claim;  // (n << 32) | next unclaimed index
    alignas(CK_LINE) _Atomic int done;        // bodies returned in the current job
    alignas(CK_LINE) _Atomic uint32_t epoch;  // bumped once per job; workers poll it
    // Read by workers only after a successful claim (so they belong to the live job); atomic
    // because a worker may still be loading them while the next job's caller stores them.
    alignas(CK_LINE) _Atomic(ck_parallel_body) body;
    _Atomic(void *) context;
    _Atomic int busy;      // 1 while a caller owns the pool (try-lock)
    _Atomic int sleepers;  // workers waiting (or about to wait) on `wake`
    _Atomic int spin_us;   // −1 until first use: then the environment or the default
    int workers;           // created so far; written only by the pool's owner (busy == 1)
    _Atomic int published_workers;
    _Atomic int use_condvar;  // sleep on the condition variable: always off Linux; on Linux when a test asks
    pthread_mutex_t mutex;
    pthread_cond_t wake;
} pool = {
    .spin_us = -1,
    .mutex = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
#if !defined(__linux__)
    .use_condvar = 1,
#endif
};

// Sleeping and waking. Linux: a futex on `epoch` (the woken worker does not then block on a
// mutex the waker holds: measured ~4 % of EfficientNet-Lite0 batch 1 under load, where workers
// mostly sleep). Elsewhere, and on Linux when a test asks (ck_pool_use_condition_variable, so
// that path runs somewhere CI runs), a condition variable under `mutex`. A worker picks the
// mechanism when it goes to sleep; while the condition variable has ever been chosen, wakers
// signal both, so a switch while workers sleep loses no wake-up.
static _Atomic int condvar_ever;

void ck_pool_use_condition_variable(int on) {
#if defined(__linux__)
    if (on) atomic_store_explicit(&condvar_ever, 1, memory_order_seq_cst);
    atomic_store_explicit(&pool.use_condvar, on != 0, memory_order_seq_cst);
#else
    (void)on;  // the only mechanism here
#endif
}

static void sleep_on_condvar(uint32_t seen) {
    pthread_mutex_lock(&pool.mutex);
    atomic_fetch_add_explicit(&pool.sleepers, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&pool.epoch, memory_order_seq_cst) == seen)
        pthread_cond_wait(&pool.wake, &pool.mutex);
    atomic_fetch_sub_explicit(&pool.sleepers, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool.mutex);
}

static void wake_condvar(void) {
    pthread_mutex_lock(&pool.mutex);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mutex);
}

/// Sleeps until `epoch` differs from `seen` (returns at once if it already does).
static void sleep_while_epoch_is(uint32_t seen) {
#if defined(__linux__)
    if (!atomic_load_explicit(&pool.use_condvar, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&pool.sleepers, 1, memory_order_seq_cst);
        while (atomic_load_explicit(&pool.epoch, memory_order_seq_cst) == seen)
            syscall(SYS_futex, (uint32_t *)&pool.epoch, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
        atomic_fetch_sub_explicit(&pool.sleepers, 1, memory_order_relaxed);
        return;
    }
#endif
    sleep_on_condvar(seen);
}

static void wake_sleepers(void) {
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)&pool.epoch, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    if (!atomic_load_explicit(&condvar_ever, memory_order_seq_cst)) return;
#endif
    wake_condvar();
}

/// Nesting depth of job bodies on this thread (ck_parallel_in_job).
static _Thread_local int job_depth;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int spin_microseconds(void) {
    int us = atomic_load_explicit(&pool.spin_us, memory_order_relaxed);
    if (us >= 0) return us;
    us = CK_POOL_SPIN_US;
    const char *env = getenv("CNNCODES_POOL_SPIN_US");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == 0 && v >= 0 && v <= 1000000) us = (int)v;
    }
    atomic_store_explicit(&pool.spin_us, us, memory_order_relaxed);
    return us;
}

void ck_pool_set_spin_us(int microseconds) {
    atomic_store_explicit(&pool.spin_us, microseconds < 0 ? 0 : microseconds, memory_order_relaxed);
}

int ck_pool_worker_count(void) { return atomic_load_explicit(&pool.published_workers, memory_order_relaxed); }

int ck_parallel_in_job(void) { return job_depth > 0; }

/// Claims and runs indices of the job whose claim word was last seen as `seen` until none is
/// left; returns how many this thread ran.
static int run_claims(uint64_t seen) {
    int ran = 0;
    for (;;) {
        const uint32_t n = (uint32_t)(seen >> 32), next = (uint32_t)seen;
        if (next >= n) return ran;
        if (atomic_compare_exchange_weak_explicit(&pool.claim, &seen, seen + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            ck_parallel_body body = atomic_load_explicit(&pool.body, memory_order_relaxed);
            void *context = atomic_load_explicit(&pool.context, memory_order_relaxed);
            job_depth++;
            body(context, (int)next);
            job_depth--;
            ran++;
            atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
            seen = atomic_load_explicit(&pool.claim, memory_order_acquire);
        }
        // On failure `seen` holds the current word: retry against it.
    }
}

// Oversubscription. Spinning pays only while each pool thread has a core: when other
// processes want the cores too, a spinning worker is a CPU hog to the scheduler (CFS charges
// it for every spin), so it is preempted for whole time slices — often while holding a
// claimed chunk the caller then waits for — whereas a sleeping worker is woken with a
// sleeper's priority. Measured at load 5 on 2 cores, EfficientNet-Lite0 batch 1, 2 threads:
// GCD 38.5 images/s, this pool spinning 100 µs 28.8, this pool never spinning 39.6.
// So a thread that finds it was preempted for more than CK_PREEMPTED_NS — a worker whose
// chunk took that much more wall time than thread CPU time, or whose clock jumped that much
// between two reads a few µs apart while spinning, or a caller whose clock jumped while
// waiting for a job's end — stops spinning pool-wide for a back-off period. (Counting
// involuntary context switches instead also counted µs-long kernel-thread preemptions.)
// The period doubles while preemptions keep coming soon after it ends (up to 2 s) and
// restarts at 50 ms after a quiet stretch, so a stray preemption costs 50 ms of GCD-like
// behaviour. With the crowding test below, a loaded machine gets GCD's speed (load 3.5:
// 63.8 vs 65.1 images/s) and a machine with free cores the spinning one (every process at
// real-time priority, which hides the load: 82–119 vs 75–101 images/s, kernel time 3.9 %
// of cycles instead of 12.3 %).
enum { CK_PREEMPTED_NS = 50000 };
/// Processors online, read once by the first job's caller (before any worker starts).
static long online_processors = 1;
static const uint64_t backoff_initial_ns = 50000000, backoff_max_ns = 2000000000;
static _Atomic uint64_t calm_until_ns;  // no spinning before this time
static _Atomic uint64_t backoff_ns = 50000000;
static _Atomic int preemptions;  // detections so far (tests, diagnostics)

/// Other runnable threads at the last crowding sample; −1 until one was read (or never, where
/// /proc/loadavg does not exist: every preemption then counts).
static _Atomic int others_runnable = -1;

static void note_preempted(uint64_t now) {
    // Preempted while no other thread of this system wanted a processor: the time went to
    // the hypervisor (a shared VM's steal) or to interrupts, which spinning neither causes
    // nor suffers more from than sleeping. Backing off then only costs the futex wake-ups:
    // on this VM, idle but for ~1 thread's background, such false alarms kept the pool from
    // spinning most of the time (SqueezeNet batch 1, 2 threads, interleaved: 154 / 202 / 169
    // → 200 / 208 / 220 images/s).
    if (atomic_load_explicit(&others_runnable, memory_order_relaxed) == 0) return;
    const uint64_t previous_end = atomic_load_explicit(&calm_until_ns, memory_order_relaxed);
    uint64_t backoff = atomic_load_explicit(&backoff_ns, memory_order_relaxed);
    if (now < previous_end) return;  // another thread already backed off
    backoff = now - previous_end < backoff + 100000000 ? backoff * 2 : backoff_initial_ns;
    if (backoff > backoff_max_ns) backoff = backoff_max_ns;
    atomic_store_explicit(&backoff_ns, backoff, memory_order_relaxed);
    atomic_store_explicit(&calm_until_ns, now + backoff, memory_order_relaxed);
    atomic_fetch_add_explicit(&preemptions, 1, memory_order_relaxed);
}

// Crowding. Preemption is not the only cost of spinning on a busy machine: a spinning worker
// is one more runnable thread, so the scheduler gives the caller's core to other processes
// more often and the serial work between jobs slows down, without any pool thread ever
// seeing a preemption (load 3.5 on 2 cores, EfficientNet-Lite0 b1, 2 threads, medians of 3:
// GCD 64.8, pool never spinning 64.6, pool spinning with only the back-off 56.3 images/s).
// So the caller samples the machine's runnable threads (4th field of /proc/loadavg, every
// 2 ms: ~5 µs a read) minus its own, keeps a moving average, and workers spin only while the
// job's threads and those others fit on the processors, with a tolerance of 1.5 threads: this
// machine idles at 0.5–1.5 other runnable threads, and below that tolerance (0.5, as first
// written) a 2-thread batch-1 pass never spun, every job woke its worker from the futex and the
// second core added only ~50 %. With it (2 threads, interleaved runs, images/s):
// SqueezeNet 168 → 205, 205 → 213, EfficientNet-Lite0 b1 142 → 151, 148 → 152; ResNet-50's
// large layers within noise; the crowded case above (load 3.5) still backs off. (Session 14,
// SqueezeNet batch 1, 2 threads, benchmarks/turns.py: spinning 0 µs / 1000 µs against the
// default 100 µs: 0.99 / 1.06 ± 0.04: in that run the wake-ups cost nothing measurable;
// the default stays, as measured above.)
static _Atomic int crowded;   // 1: other threads want the cores, do not spin
static _Atomic int spinning;  // workers spinning right now (they count as runnable)
static uint64_t crowd_sampled_ns;  // these three: pool owner only
static int crowd_average_x16 = 16;  // moving average of other runnable threads, ×16
static int loadavg_fd = -2;         // −2: not opened yet, −1: unavailable (not Linux)

static void sample_crowding(uint64_t now, int threads) {
    if (now - crowd_sampled_ns < 2000000) return;
    crowd_sampled_ns = now;
    if (loadavg_fd == -2) loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (loadavg_fd < 0) return;
    char text[128];
    const ssize_t got = pread(loadavg_fd, text, sizeof text - 1, 0);
    if (got <= 0) return;
    text[got] = 0;
    // "0.52 0.58 0.59 3/250 12345": runnable threads / all threads in the fourth field.
    double one, five, fifteen;
    int running;
    if (sscanf(text, "%lf %lf %lf %d/", &one, &five, &fifteen, &running) != 4) return;
    int others = running - 1 - atomic_load_explicit(&spinning, memory_order_relaxed);
    if (others < 0) others = 0;
    atomic_store_explicit(&others_runnable, others, memory_order_relaxed);
    crowd_average_x16 += (others * 16 - crowd_average_x16) / 4;
    const long free_processors = online_processors - threads;
    atomic_store_explicit(&crowded, crowd_average_x16 > free_processors * 16 + 24, memory_order_relaxed);
}

static int backing_off(uint64_t now) {
    return atomic_load_explicit(&crowded, memory_order_relaxed) ||
           now < atomic_load_explicit(&calm_until_ns, memory_order_relaxed);
}

/// CPU time of the calling thread in ns (a system call on Linux, ~0.2 µs; one per job and
/// worker, only while the pool spins).
static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ck_pool_may_spin(void) { return !backing_off(now_ns()); }

int ck_pool_preemptions(void) { return atomic_load_explicit(&preemptions, memory_order_relaxed); }

/// Returns the first epoch different from `seen`: polls it for up to spin_us when `spin`
/// (and the pool is not backing off), then sleeps until a caller bumps it.
static uint32_t wait_for_job(uint32_t seen, int spin) {
    const uint64_t budget = (uint64_t)spin_microseconds() * 1000u;
    const uint64_t start = spin && budget > 0 ? now_ns() : 0;
    if (start != 0 && !backing_off(start)) {
        atomic_fetch_add_explicit(&spinning, 1, memory_order_relaxed);
        uint64_t last = start;
        for (unsigned round = 1;; round++) {
            uint32_t e = atomic_load_explicit(&pool.epoch, memory_order_acquire);
            if (e != seen) {
                atomic_fetch_sub_explicit(&spinning, 1, memory_order_relaxed);
                return e;
            }
            cpu_relax();
            // The clock (vDSO, ~20 ns) is read every 64 pauses (a few µs on current cores).
            if ((round & 63) == 0) {
                const uint64_t now = now_ns();
                if (now - last > CK_PREEMPTED_NS) {
                    note_preempted(now);
                    break;
                }
                if (now - start >= budget) break;
                last = now;
            }
        }
        atomic_fetch_sub_explicit(&spinning, 1, memory_order_relaxed);
    }
    sleep_while_epoch_is(seen);
    return atomic_load_explicit(&pool.epoch, memory_order_acquire);
}

/// Epoch each worker starts from (the one before the job that created it), set before
/// pthread_create, which orders the write before the worker's first read.
static uint32_t start_epoch[CK_POOL_MAX_WORKERS];


// Threads are not pinned to processors: the caller on CPU 0 and worker i on CPU i + 1
// measured 1.005 on SqueezeNet at two threads (benchmarks/turns.py, session 15).
static void *worker_main(void *argument) {
    const uint32_t id = (uint32_t)(uintptr_t)argument;  // takes part in jobs with n > id + 1
    uint32_t seen = start_epoch[id];
    // Worker id runs beside the caller and workers 0..id−1: if that is more threads than
    // processors, spinning would take cores from threads with work, so it only sleeps.
    const int may_spin = (long)id + 2 <= online_processors;
    int spin = 0;
    for (;;) {
        seen = wait_for_job(seen, spin);
        const uint64_t word = atomic_load_explicit(&pool.claim, memory_order_acquire);
        // A job of n indices has n − 1 workers' worth of work: the others go straight back to
        // sleep (no spinning) so an earlier, wider job does not leave idle threads burning
        // cores. Spinning is earned by a job that wanted this worker.
        if ((uint32_t)(word >> 32) <= id + 1) {
            spin = 0;
            continue;
        }
        // Off-CPU time while running chunks = preempted (the bodies do not block).
        const uint64_t wall = may_spin ? now_ns() : 0;
        const int watch = may_spin && !backing_off(wall);
        const uint64_t cpu = watch ? thread_cpu_ns() : 0;
        run_claims(word);
        if (watch) {
            const uint64_t now = now_ns();
            if ((int64_t)((now - wall) - (thread_cpu_ns() - cpu)) > CK_PREEMPTED_NS) note_preempted(now);
        }
        spin = may_spin;
    }
    return NULL;
}

/// Creates workers until `wanted` exist (or thread creation fails: the job then simply runs
/// on fewer threads — claiming is dynamic). Called only by the pool's owner.
static void ensure_workers(int wanted) {
    if (wanted > CK_POOL_MAX_WORKERS) wanted = CK_POOL_MAX_WORKERS;
    if (pool.workers == 0) {
        const long online = sysconf(_SC_NPROCESSORS_ONLN);
        online_processors = online > 0 ? online : 1;
    }
    while (pool.workers < wanted) {
        const int id = pool.workers;
        start_epoch[id] = atomic_load_explicit(&pool.epoch, memory_order_relaxed);
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        const int failed = pthread_create(&thread, &attributes, worker_main, (void *)(uintptr_t)id);
        pthread_attr_destroy(&attributes);
        if (failed) return;
        pool.workers++;
        atomic_store_explicit(&pool.published_workers, pool.workers, memory_order_relaxed);
    }
}

/// Waits for the job's other threads, spinning: they claimed their index after the caller
/// published the job, so they are running, not sleeping. If the machine is oversubscribed
/// and one was preempted, yielding gives it the core back sooner than spinning would, and a
/// wait long enough to see this thread descheduled counts as a preemption (back-off above).
static void wait_for_done(int n) {
    uint64_t last = 0;
    for (unsigned round = 1; atomic_load_explicit(&pool.done, memory_order_acquire) < n; round++) {
        if (round < 4096) cpu_relax();
        else sched_yield();
        if ((round & 63) == 0) {
            const uint64_t now = now_ns();
            if (last != 0 && now - last > CK_PREEMPTED_NS) note_preempted(now);
            last = now;
        }
    }
}

int ck_parallel_try(int n, ck_parallel_body body, void *context) {
    if (n <= 1) {
        if (n == 1) body(context, 0);
        return 1;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&pool.busy, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        return 0;
    ensure_workers(n - 1);
    sample_crowding(now_ns(), n);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.body, body, memory_order_relaxed);
    atomic_store_explicit(&pool.context, context, memory_order_relaxed);
    // Index 0 is the caller's: published as already claimed.
    atomic_store_explicit(&pool.claim, ((uint64_t)(uint32_t)n << 32) | 1u, memory_order_release);
    atomic_fetch_add_explicit(&pool.epoch, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&pool.sleepers, memory_order_seq_cst) > 0) wake_sleepers();
    job_depth++;
    body(context, 0);
    job_depth--;
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    run_claims(atomic_load_explicit(&pool.claim, memory_order_acquire));
    wait_for_done(n);
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 1;
}

void ck_parallel_for(int n, ck_parallel_body body, void *context) {
    if (ck_parallel_try(n, body, context)) return;
    for (int i = 0; i < n; i++) body(context, i);
}

//! The job workers' threads: a tokio runtime of their own whose threads run at a lower OS
//! priority (nice [`NICE`]) than the HTTP ingress, which keeps the process's main runtime.
//!
//! Why: on a small machine the ingress, the workers and Postgres share a couple of cores. On one
//! runtime, a declaration's burst of jobs (rendering, JSON, Slack calls — nine per declaration)
//! queues on the same threads as the next slash command, whose acknowledgement then waits
//! behind them; with the workers' threads niced, the kernel runs the ingress first whenever
//! both are ready, and the jobs take what is left (they wait on Slack and Postgres anyway).
//! Diagnostics the workers start inherit the nice value: on a contended host they get a smaller
//! share of the CPU than the ingress, never less than their turn.

use std::future::Future;
use std::pin::Pin;

/// The nice value of the job threads (0 is the default, 19 the lowest priority).
pub const NICE: i32 = 10;

/// Threads of the job runtime: jobs wait on I/O, so two are enough on any machine.
pub const THREADS: usize = 2;

/// A worker's future, as the runtime takes it.
pub type Work = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The job runtime (I/O and timers on, threads named `warroom-jobs`).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(THREADS)
        .thread_name("warroom-jobs")
        .on_thread_start(lower_priority)
        .enable_all()
        .build()
}

/// Lowers the calling thread's priority: on Linux `setpriority(PRIO_PROCESS, tid)` is
/// per-thread. Best effort: a refusal leaves the thread as it was (the workers still run).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take and return plain integers; they touch no memory.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn the_job_threads_run_at_the_lower_priority_and_the_caller_does_not() {
        let nice = || {
            // SAFETY: as above; getpriority's -1 is a valid value here (errno is not needed).
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        };
        let before = nice();
        let runtime = super::runtime().unwrap();
        let inside = runtime.block_on(async { tokio::spawn(async move { nice() }).await.unwrap() });
        assert_eq!(inside, super::NICE.max(before));
        assert_eq!(nice(), before, "the thread that built the runtime keeps its priority");
    }
}

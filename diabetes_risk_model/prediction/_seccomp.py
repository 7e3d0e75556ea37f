"""The sandbox child's seccomp filter (libseccomp through ``pyseccomp``): the system calls unpickling and
prediction make, and nothing else.

Measured by tracing the child (``strace -f``) while it loads and answers real pipelines, then reviewed:
memory management, reading files opened read-only (lazy imports), threads (``clone`` with ``CLONE_THREAD``
only), futexes, signals, clocks, pipes and epoll inside the process, writing to descriptors it already holds
(stdout, stderr, its own pipes). Denied with ``EPERM`` (default): every socket call, ``execve``, ``fork``,
``ptrace``, ``mount``, ``unshare``, ``setns``, ``bpf``, ``kill`` of another process, and any ``open`` for
writing, creating or truncating. ``clone3`` answers ``ENOSYS`` so the C library falls back to ``clone``,
whose flags the filter can check. ``no_new_privs`` is set by loading the filter.
"""

from __future__ import annotations

import errno
import os
import termios

#: System calls allowed with any arguments.
ALLOWED = (
    # memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "membarrier",
    # files already open, and the file system read-only
    "read", "pread64", "readv", "write", "writev", "lseek", "close", "fstat", "newfstatat", "stat", "lstat",
    "statx", "getdents64", "readlink", "readlinkat", "getcwd", "access", "faccessat", "faccessat2", "fcntl",
    "dup", "dup2", "dup3", "pipe2", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "poll", "ppoll",
    # threads, waiting, signals, time
    "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "gettid", "getpid", "getppid",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "sched_yield", "sched_getaffinity",
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "getrandom",
    "getuid", "geteuid", "getgid", "getegid", "uname", "sysinfo", "getrusage", "exit", "exit_group",
)  # fmt: skip

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CLONE_THREAD = 0x00010000


def confine() -> None:
    """Load the filter into this process (and threads it starts later); it cannot be lifted."""
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
    for name in ALLOWED:
        flt.add_rule(seccomp.ALLOW, name)
    flt.add_rule(seccomp.ALLOW, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, _WRITE_FLAGS, 0))
    flt.add_rule(seccomp.ALLOW, "open", seccomp.Arg(1, seccomp.MASKED_EQ, _WRITE_FLAGS, 0))
    flt.add_rule(seccomp.ALLOW, "ioctl", seccomp.Arg(1, seccomp.EQ, termios.TCGETS))  # isatty() only
    flt.add_rule(seccomp.ALLOW, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, _CLONE_THREAD))
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    flt.add_rule(seccomp.ALLOW, "prlimit64", seccomp.Arg(2, seccomp.EQ, 0))  # reading limits, never setting
    flt.add_rule(seccomp.ALLOW, "tgkill", seccomp.Arg(0, seccomp.EQ, os.getpid()))  # signals to itself
    flt.load()

#!/usr/bin/env python3
"""Whole-process timer and peak-RSS probe for bench/run.sh (python3 standard library only).

    proctime.py time RUNS WARMUP [--stdout-dir DIR] NAME=CMD [NAME=CMD ...]
    proctime.py rss  NAME=CMD [NAME=CMD ...]

CMD is split with shlex; NAME labels it in the output.

time: each command is started with os.posix_spawn (stdin and stderr from/to /dev/null, stdout to
/dev/null or, with --stdout-dir, to DIR/NAME.<run>) and reaped with os.wait4. The wall time is
taken around spawn + wait, so it covers the whole process: exec, dynamic loading, the run, exit.
The commands run round-robin (A B C A B C ...) so drift in machine load hits all of them alike;
WARMUP untimed rounds come first. Prints one JSON line per command:
  {"name", "runs", "median_ms", "p90_ms", "min_ms", "mean_ms", "exit_codes"}

rss: the fallback when GNU time (/usr/bin/time -f %M) is not installed. The ru_maxrss that wait4
reports cannot be used from here: Linux carries the spawning process's high-water mark across
exec, so every child of this ~10 MiB python process would report at least that. Instead the
child is run under ptrace with PTRACE_O_TRACEEXIT (via ctypes), stopped as it exits, and its
VmHWM is read from /proc/PID/status: the peak resident set of the program's own address space.
If ptrace is refused, the wait4 number is printed with "upper_bound": true. Prints one JSON line
per command: {"name", "peak_rss_kib", "method", "upper_bound", "exit_code"}
"""

import argparse
import ctypes
import json
import os
import shlex
import shutil
import signal
import statistics
import sys
import time


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted, non-empty list."""
    k = max(0, min(len(sorted_values) - 1, -(-int(q * 1000) * len(sorted_values) // 1000) - 1))
    return sorted_values[k]


def parse_commands(items):
    commands = []
    for item in items:
        name, sep, cmd = item.partition("=")
        if not sep:
            sys.exit(f"proctime: expected NAME=CMD, got {item!r}")
        argv = shlex.split(cmd)
        exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0])
        if not exe or not os.access(exe, os.X_OK):
            sys.exit(f"proctime: {argv[0]}: not an executable")
        argv[0] = exe
        commands.append((name, argv))
    return commands


def cmd_time(args):
    commands = parse_commands(args.commands)
    times = {name: [] for name, _ in commands}
    codes = {name: set() for name, _ in commands}
    for round_ in range(args.warmup + args.runs):
        timed = round_ >= args.warmup
        for name, argv in commands:
            out = os.devnull
            if timed and args.stdout_dir:
                out = os.path.join(args.stdout_dir, f"{name}.{round_ - args.warmup}")
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ]
            t0 = time.perf_counter_ns()
            pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
            _, status, _ = os.wait4(pid, 0)
            t1 = time.perf_counter_ns()
            if timed:
                times[name].append((t1 - t0) / 1e6)
                codes[name].add(os.waitstatus_to_exitcode(status))
    for name, _ in commands:
        t = sorted(times[name])
        print(json.dumps({
            "name": name, "runs": len(t),
            "median_ms": statistics.median(t), "p90_ms": percentile(t, 0.90),
            "min_ms": t[0], "mean_ms": statistics.fmean(t),
            "exit_codes": sorted(codes[name]),
        }), flush=True)


PTRACE_TRACEME, PTRACE_CONT, PTRACE_SETOPTIONS = 0, 7, 0x4200
PTRACE_O_TRACEEXIT, PTRACE_EVENT_EXIT = 0x40, 6


def peak_rss_ptrace(argv):
    """-> (VmHWM KiB, exit code), or None if ptrace is not permitted."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    pid = os.fork()
    if pid == 0:  # child: silence output, ask to be traced, exec (stops with SIGTRAP)
        try:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            if libc.ptrace(PTRACE_TRACEME, 0, None, None) != 0:
                os._exit(126)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    if not os.WIFSTOPPED(status):
        return None  # PTRACE_TRACEME refused: the child exited with 126
    if libc.ptrace(PTRACE_SETOPTIONS, pid, None, ctypes.c_void_p(PTRACE_O_TRACEEXIT)) != 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None
    hwm, deliver = None, 0
    while True:
        libc.ptrace(PTRACE_CONT, pid, None, ctypes.c_void_p(deliver))
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            return hwm, os.waitstatus_to_exitcode(status)
        deliver = 0
        if (status >> 16) == PTRACE_EVENT_EXIT:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = int(line.split()[1])
        elif os.WSTOPSIG(status) != signal.SIGTRAP:
            deliver = os.WSTOPSIG(status)  # pass real signals on


def peak_rss_wait4(argv):
    actions = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, rusage = os.wait4(pid, 0)
    return rusage.ru_maxrss, os.waitstatus_to_exitcode(status)


def cmd_rss(args):
    for name, argv in parse_commands(args.commands):
        result = peak_rss_ptrace(argv)
        if result is not None and result[0] is not None:
            kib, code = result
            method, upper = "ptrace VmHWM at exit", False
        else:
            kib, code = peak_rss_wait4(argv)
            method, upper = "wait4 ru_maxrss (includes the spawner's RSS)", True
        print(json.dumps({"name": name, "peak_rss_kib": kib, "method": method,
                          "upper_bound": upper, "exit_code": code}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_time = sub.add_parser("time")
    p_time.add_argument("runs", type=int)
    p_time.add_argument("warmup", type=int)
    p_time.add_argument("--stdout-dir")
    p_time.add_argument("commands", nargs="+")
    p_rss = sub.add_parser("rss")
    p_rss.add_argument("commands", nargs="+")
    args = parser.parse_args()
    (cmd_time if args.mode == "time" else cmd_rss)(args)


if __name__ == "__main__":
    main()

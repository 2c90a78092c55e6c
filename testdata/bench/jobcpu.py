"""jobcpu.py DRIVER_PID WORKER_PID SECONDS: the CPU the streaming job uses over SECONDS, as a
percentage of one core: its driver (spark-submit's JVM and its Python) and its executor (the
Spark worker's CoarseGrainedExecutorBackend child), read from /proc."""
import os
import sys
import time


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if int(stat(p)[1]) == pid:
                    out.append(int(p))
            except OSError:
                pass
    return out


def tree(pid):
    pids = [pid]
    for c in children(pid):
        pids += tree(c)
    return pids


def executor(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"CoarseGrainedExecutorBackend" in f.read()
    except OSError:
        return False


def ticks(pids):
    total = 0
    for p in pids:
        try:
            f = stat(p)
            total += int(f[11]) + int(f[12])
        except OSError:
            pass
    return total


driver, worker, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
pids = tree(driver) + [p for p in tree(worker)[1:] if executor(p)]
t0, c0 = time.monotonic(), ticks(pids)
time.sleep(secs)
t1, c1 = time.monotonic(), ticks(pids)
print(f"{100 * (c1 - c0) / os.sysconf('SC_CLK_TCK') / (t1 - t0):.1f}")

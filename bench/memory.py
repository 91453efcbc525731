"""Memory figures shared by the benchmark scripts."""

from __future__ import annotations

import resource


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far, in GB (VmHWM, else ru_maxrss)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def current_rss_gb() -> float:
    """Resident set size of this process now, in GB (VmRSS; 0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0: write 5 to clear_refs), so the next
    :func:`peak_rss_gb` covers only what follows; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def rusage_now() -> dict[str, float]:
    """This process's user and system CPU seconds, page faults and context switches so far (to
    tell waiting for a core, which involuntary switches count, from paging, which major faults
    and swap count)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "user": ru.ru_utime,
        "sys": ru.ru_stime,
        "majflt": ru.ru_majflt,
        "minflt": ru.ru_minflt,
        "nivcsw": ru.ru_nivcsw,
    }


def rusage_since(before: dict[str, float]) -> str:
    """One line: what :func:`rusage_now` counted since ``before``, and the swap in use now."""
    now = rusage_now()
    d = {key: now[key] - before[key] for key in now}
    swap = 0.0
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSwap:"):
                    swap = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return (
        f"user {d['user']:.1f} s, system {d['sys']:.1f} s, major faults {d['majflt']:.0f}, "
        f"minor faults {d['minflt']:.0f}, involuntary switches {d['nivcsw']:.0f}, "
        f"swap {swap:.2f} GB"
    )

"""What the Python peer programs share: the command line ([N] [--uvloop]), the event loop
(asyncio's own, or uvloop's with --uvloop), a monotonic clock and /proc/self/status."""
import asyncio
import sys
import time

now = time.perf_counter


def arguments(default_n):
    """The count N (first argument that is a number) and whether --uvloop was given."""
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    return (int(numbers[0]) if numbers else default_n), "--uvloop" in sys.argv[1:]


def run(main, use_uvloop):
    if use_uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(main)


def status_bytes(field):
    """A "VmRSS" or "VmHWM" line of /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def port_argument():
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    return int(numbers[0]) if numbers else 0

"""spawn: N tasks created with create_task, then gathered; each returns its index.
Usage: spawn.py [N=1000000] [--uvloop]. Prints "spawn n=N seconds=S rate=TASKS_PER_SECOND"."""
import asyncio
import sys

import peer


async def work(i):
    return i


async def main(n):
    start = peer.now()
    tasks = [asyncio.create_task(work(i)) for i in range(n)]
    results = await asyncio.gather(*tasks)
    seconds = peer.now() - start
    if sum(results) != n * (n - 1) // 2:
        sys.exit("spawn.py: wrong sum")
    print(f"spawn n={n} seconds={seconds:.6f} rate={n / seconds:.0f}")


n, use_uvloop = peer.arguments(1_000_000)
peer.run(main(n), use_uvloop)

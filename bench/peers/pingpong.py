"""pingpong: two tasks pass a number back and forth through two asyncio.Queue, N round trips.
Usage: pingpong.py [N=1000000] [--uvloop].
Prints "pingpong n=N seconds=S rate=ROUND_TRIPS_PER_SECOND"."""
import asyncio
import sys

import peer


async def ping(q1, q2, n):
    total = 0
    for i in range(n):
        await q1.put(i)
        total += await q2.get()
    return total


async def pong(q1, q2, n):
    for _ in range(n):
        await q2.put(await q1.get())


async def main(n):
    q1, q2 = asyncio.Queue(), asyncio.Queue()
    start = peer.now()
    total, _ = await asyncio.gather(ping(q1, q2, n), pong(q1, q2, n))
    seconds = peer.now() - start
    if total != n * (n - 1) // 2:
        sys.exit("pingpong.py: wrong sum")
    print(f"pingpong n={n} seconds={seconds:.6f} rate={n / seconds:.0f}")


n, use_uvloop = peer.arguments(1_000_000)
peer.run(main(n), use_uvloop)

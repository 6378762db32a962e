"""sleep: N tasks sleep one second at the same time. Wall time runs from the first
create_task to the end of the gather; bytes per task are (peak resident memory once all
sleep - resident memory before) / N, from /proc/self/status.
Usage: sleep.py [N=1000000] [--uvloop]. Prints "sleep n=N wall_s=S bytes_per_task=B"."""
import asyncio

import peer


async def main(n):
    before = peer.status_bytes("VmRSS")
    start = peer.now()
    tasks = [asyncio.create_task(asyncio.sleep(1)) for _ in range(n)]
    await asyncio.sleep(0)  # every task has started and sleeps
    peak = peer.status_bytes("VmHWM")
    await asyncio.gather(*tasks)
    wall = peer.now() - start
    print(f"sleep n={n} wall_s={wall:.3f} bytes_per_task={(peak - before) / n:.0f}")


n, use_uvloop = peer.arguments(1_000_000)
peer.run(main(n), use_uvloop)

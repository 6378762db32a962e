"""Python asyncio client that checks a line echo server: usage asyncio_client.py PORT LINES.
Sends LINES numbered lines, a 1 MiB line, then half-closes and expects EOF. Exit 0 on success."""
import asyncio
import sys


async def main(port, lines):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(lines):
        line = f"python line {i}\n".encode()
        writer.write(line)
        await writer.drain()
        echoed = await reader.readline()
        if echoed != line:
            sys.exit(f"line {i}: sent {line!r}, got {echoed!r}")
    big = b"x" * (1 << 20) + b"\n"
    writer.write(big)
    await writer.drain()
    echoed = await reader.readexactly(len(big))
    if echoed != big:
        sys.exit("the 1 MiB line came back altered")
    writer.write_eof()
    if await reader.read() != b"":
        sys.exit("expected EOF after write_eof")
    writer.close()
    await writer.wait_closed()
    print("ok", lines)


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))

"""Python asyncio echo server: the independent peer of the interoperability tests and the
reference of the echo benchmark. Prints its port on stdout, then serves until killed."""
import asyncio
import sys


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    server = await asyncio.start_server(handle, host, 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())

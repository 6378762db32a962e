"""TCP echo server on asyncio streams (default) or on an asyncio.Protocol (--protocol), on
asyncio's loop or uvloop's (--uvloop).
Usage: echo_server.py [port=0] [--protocol] [--uvloop].
Prints "listening on 127.0.0.1 PORT", then serves until killed."""
import asyncio
import sys

import peer


async def handle(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(port, protocol):
    loop = asyncio.get_running_loop()
    if protocol:
        server = await loop.create_server(Echo, "127.0.0.1", port, backlog=4096)
    else:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print(f"listening on 127.0.0.1 {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


peer.run(main(peer.port_argument(), "--protocol" in sys.argv), "--uvloop" in sys.argv)

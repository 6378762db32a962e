"""Keep-alive HTTP/1.1 "Hello, World!" server on asyncio streams, on asyncio's loop or
uvloop's (--uvloop): readuntil "\\r\\n\\r\\n", the request line and the Connection header, one
write per response. Requests are assumed to have no body (GET).
Usage: http_server.py [port=0] [--uvloop].
Prints "listening on 127.0.0.1 PORT", then serves until killed."""
import asyncio
import sys

import peer

HELLO = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot found\n"
)


def parse(head):
    """(ok, keep_alive, hello) of one request head."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return False, False, False
    method, target, version = parts
    keep_alive = version == b"HTTP/1.1"
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"connection":
            value = value.strip().lower()
            if value == b"close":
                keep_alive = False
            elif value == b"keep-alive":
                keep_alive = True
    return True, keep_alive, method == b"GET" and target == b"/"


async def handle(reader, writer):
    try:
        while True:
            ok, keep_alive, hello = parse(await reader.readuntil(b"\r\n\r\n"))
            if not ok:
                break
            writer.write(HELLO if hello else NOT_FOUND)
            await writer.drain()
            if not keep_alive:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print(f"listening on 127.0.0.1 {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


peer.run(main(peer.port_argument()), "--uvloop" in sys.argv)

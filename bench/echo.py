#!/usr/bin/env python3
"""bench/echo.py - asyncio's side of coil_bench's TCP echo bench.

    echo.py    listen on 127.0.0.1 (a free port), print the port, echo
               forever

A Protocol, not streams: asyncio's fastest pure-Python form (data_received
calls transport.write, no coroutine per message).  coil_bench starts it
with its affinity set to the server's CPU and kills it when done (or this
exits when coil_bench dies: see exit_on_eof).
"""
import asyncio
import os
import sys
import threading


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


def exit_on_eof():
    # stdin is a pipe from coil_bench: EOF means it is gone, so go too.
    # A thread blocked in read holds no GIL: it costs the loop nothing.
    sys.stdin.buffer.read()
    os._exit(0)


async def main():
    threading.Thread(target=exit_on_eof, daemon=True).start()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=4096)
    # The port on a line of its own says "ready" to coil_bench.
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)

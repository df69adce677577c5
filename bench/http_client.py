"""Keep-alive HTTP/1.1 exchanges for the served-stack benchmarks (``bench_commits``, ``bench_lrs``).

A benchmark client writes one request on an open asyncio connection and reads its answer here:
status line, headers (``Content-Length``, ``Connection: close``) and body. No third-party client:
its own CPU would sit beside the server's on the same small machine.
"""

from __future__ import annotations

import asyncio


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[bytes, bytes, bool]:
    """Send ``request`` (head and body); the answer's status line, its body, whether the server closes."""
    writer.write(request)
    status_line = await reader.readline()
    length = 0
    close = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            close = True
    answer = await reader.readexactly(length)
    return status_line, answer, close

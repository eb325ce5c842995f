"""Reading a line from the terminal inside an event loop, without a thread.

A prompt read with ``asyncio.to_thread(input, ...)`` keeps the process alive after Ctrl-C:
``asyncio.run`` joins its worker threads on the way out, and that one sits in ``input()``
until Enter. Waiting for stdin to become readable instead lets Ctrl-C end the program at once.
"""

from __future__ import annotations

import asyncio
import sys


async def read_line(prompt: str) -> str:
    """``input(prompt)`` for coroutines; raises `EOFError` when stdin is closed."""
    if sys.platform == "win32":  # pragma: no cover - no add_reader on Windows' event loop
        return await asyncio.to_thread(input, prompt)
    print(prompt, end="", flush=True)
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()
    stdin = sys.stdin.fileno()

    def readable() -> None:
        if not line.done():
            line.set_result(sys.stdin.readline())

    loop.add_reader(stdin, readable)
    try:
        text = await line
    finally:
        loop.remove_reader(stdin)
    if not text:
        raise EOFError("stdin is closed")
    return text.removesuffix("\n")

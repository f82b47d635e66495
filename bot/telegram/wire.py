"""The supervisor ↔ worker link of `run --workers N`: one JSON object a frame (4-byte length first)
over a unix socket, one connection per update.

A unix socket rather than loopback HTTP: nothing outside the machine (or outside the runtime
folder's permissions) can post an update to a worker, and there is no second web server to run.
The worker answers only once the update was handled, so a broken connection tells the supervisor
that the worker died holding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from pathlib import Path
from typing import Any

MAX_FRAME = 32 * 1024 * 1024  # Telegram's updates are far smaller; a larger length is garbage
_LENGTH = struct.Struct(">I")

# What a worker answers about an update
DONE = "done"  # handled by this worker, now
TAKEN = "taken"  # another worker claimed it (and may still be handling it)
ERROR = "error"  # could not be claimed or handled (the state database failed): retry later
READY = "ready"  # the answer to {"ping": true}: the index is loaded, updates are welcome


async def write_frame(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    writer.write(_LENGTH.pack(len(body)) + body)
    await writer.drain()


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    """The next message; asyncio.IncompleteReadError when the other side is gone."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes")
    message = json.loads(await reader.readexactly(length))
    if not isinstance(message, dict):
        raise ValueError("a frame must hold a JSON object")
    return message


async def ask(socket: Path, message: dict[str, Any]) -> dict[str, Any]:
    """Send one message to the worker listening on `socket` and wait for its answer."""
    reader, writer = await asyncio.open_unix_connection(str(socket))
    try:
        await write_frame(writer, message)
        return await read_frame(reader)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()

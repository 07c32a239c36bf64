"""Run the bundled Milvus standalone server in a network namespace of its own, reachable only through a Unix socket.

Milvus 2.3.5 binds its gRPC and metrics ports on every interface whatever its config says, so the test fixture
starts it with `unshare --net` (a namespace whose only interface is loopback) and this script, inside it:

1. brings the namespace's loopback up,
2. starts `milvus run standalone` with the environment the `milvus` package would give it,
3. waits for /healthz, then forwards a Unix socket (argv[2]) to 127.0.0.1:PROXY_PORT inside the namespace.

Nothing listens outside the namespace but that socket file; pymilvus connects to it as `unix:PATH`.
Usage: unshare -rn python milvus_sandbox.py BASE_DIR SOCKET PROXY_PORT METRICS_PORT
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def forward(socket_path: str, port: int) -> None:
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_unix_server(handle, path=socket_path)
    async with server:
        await server.serve_forever()


def main() -> None:
    base, socket_path, port, metrics = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    loopback_up()
    binary = os.path.join(base, "bin", "milvus")
    env = dict(os.environ, DEPLOY_MODE="STANDALONE", METRICS_PORT=str(metrics), MILVUS_RUN_DIR=os.path.join(base, "run"),
               LD_LIBRARY_PATH=":".join([os.path.dirname(binary), os.environ.get("LD_LIBRARY_PATH", "")]))
    with open(os.path.join(base, "logs", "milvus-stdout.log"), "w") as out, \
            open(os.path.join(base, "logs", "milvus-stderr.log"), "w") as err:
        process = subprocess.Popen([binary, "run", "standalone"], cwd=base, env=env, stdout=out, stderr=err)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/healthz", timeout=2) as response:
                    if b"OK" in response.read():
                        break
            except OSError:
                time.sleep(0.2)
        if process.poll() is not None:
            sys.exit(f"milvus exited with {process.returncode} (see {base}/logs)")
        try:
            asyncio.run(forward(socket_path, port))
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()

"""A toy blockchain node: six services in one process, wired by mainspring.

Run it with ``python examples/node.py`` (add ``--help`` for the options).
It logs each service as it starts, then prints one line to stdout::

    READY http=<port> peer=<port>

and serves until Ctrl-C or SIGTERM, when it stops the services in reverse
order. While it runs, try::

    curl http://127.0.0.1:<http port>/health
    curl http://127.0.0.1:<http port>/blocks
    printf 'HEIGHT\\nPING\\n' | nc 127.0.0.1 <peer port>

The services, each depending on the one before it:

- `Settings`: ports, data file and block interval, from flags and the
  environment. Plain data, registered as a ready instance.
- `Database`: the chain in an sqlite3 file.
- `BlockProducer`: mines a block every interval, in its ``run()`` body.
- `PeerListener`: a TCP line protocol for other nodes (``HEIGHT``, ``PING``).
- `HttpApi`: ``GET /health``, ``GET /blocks`` and ``GET /`` as JSON.
- `Announcer`: prints the READY line once everything above has started.

Only the standard library and mainspring are used.
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from mainspring import Container, MainspringError, service

log = logging.getLogger("node")

GENESIS_PARENT = "0" * 64
# Leading zero hex digits a block hash needs: about 256 tries per block, a
# fraction of a millisecond, so mining can run on the event loop itself.
DIFFICULTY = 2
# /blocks returns at most this many blocks, newest first.
PAGE = 100


# Settings


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the node listens and stores, and how often it mines.

    A port of 0 asks the operating system for a free port; the services
    report the port they really got.
    """

    data: Path
    peer_port: int = 0
    http_port: int = 0
    interval: float = 1.0
    host: str = "127.0.0.1"

    @classmethod
    def load(
        cls,
        argv: Sequence[str],
        environ: Mapping[str, str],
        scratch: Path,
    ) -> "Settings":
        """Read flags, falling back to NODE_* variables, then defaults.

        ``scratch`` is a fresh directory for the data file when neither
        ``--data`` nor ``NODE_DATA`` names one.
        """
        parser = argparse.ArgumentParser(
            description="Run a toy blockchain node until Ctrl-C."
        )
        parser.add_argument(
            "--peer-port",
            type=_port,
            default=environ.get("NODE_PEER_PORT", "0"),
            help="TCP port for peers, 0 for any free port "
            "(env NODE_PEER_PORT; default: 0)",
        )
        parser.add_argument(
            "--http-port",
            type=_port,
            default=environ.get("NODE_HTTP_PORT", "0"),
            help="TCP port for the HTTP API, 0 for any free port "
            "(env NODE_HTTP_PORT; default: 0)",
        )
        parser.add_argument(
            "--data",
            type=Path,
            default=environ.get("NODE_DATA", scratch / "chain.sqlite3"),
            help="sqlite3 file holding the chain (env NODE_DATA; default: a "
            "file in a new temporary directory, removed on exit)",
        )
        parser.add_argument(
            "--interval",
            type=_seconds,
            default=environ.get("NODE_INTERVAL", "1.0"),
            help="seconds between two blocks (env NODE_INTERVAL; "
            "default: 1.0)",
        )
        args = parser.parse_args(argv)
        return cls(
            data=args.data,
            peer_port=args.peer_port,
            http_port=args.http_port,
            interval=args.interval,
        )


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        message = f"{port} is not a TCP port number (0 to 65535)"
        raise argparse.ArgumentTypeError(message)
    return port


def _seconds(text: str) -> float:
    seconds = float(text)
    if not seconds > 0:
        message = f"{text} is not a positive number of seconds"
        raise argparse.ArgumentTypeError(message)
    return seconds


# Database


@dataclass(frozen=True, slots=True)
class Block:
    number: int
    parent: str
    timestamp: float
    nonce: int
    hash: str


@service
class Database:
    """The chain, one row per block, in an sqlite3 file.

    Threads: the container runs the sync hooks below (start, stop, status)
    in worker threads, and the async services call into this class through
    `asyncio.to_thread` so that disk I/O never stalls the event loop. So the
    connection is used from several threads, which sqlite3 refuses unless
    it is opened with ``check_same_thread=False``. We open it that way and
    hold ``self._lock`` around every use instead, so that one thread at a
    time talks to it. The lock also orders shutdown: a write still running
    in a thread when the producer is cancelled finishes before `stop`
    closes the connection.
    """

    def __init__(self, settings: Settings) -> None:
        self._path = settings.data
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, check_same_thread=False)
        with connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS blocks ("
                " number INTEGER PRIMARY KEY,"
                " parent TEXT NOT NULL,"
                " timestamp REAL NOT NULL,"
                " nonce INTEGER NOT NULL,"
                " hash TEXT NOT NULL UNIQUE)"
            )
        with self._lock:
            self._connection = connection
        log.info("chain stored in %s", self._path)

    def stop(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def status(self) -> None:
        with self._lock:
            self._open().execute("SELECT 1").fetchone()

    def tip(self) -> Block | None:
        """The newest block, or None for an empty chain."""
        with self._lock:
            row = (
                self._open()
                .execute(
                    "SELECT number, parent, timestamp, nonce, hash"
                    " FROM blocks ORDER BY number DESC LIMIT 1"
                )
                .fetchone()
            )
        return None if row is None else Block(*row)

    def add(self, block: Block) -> None:
        with self._lock:
            connection = self._open()
            with connection:
                connection.execute(
                    "INSERT INTO blocks VALUES (?, ?, ?, ?, ?)",
                    (
                        block.number,
                        block.parent,
                        block.timestamp,
                        block.nonce,
                        block.hash,
                    ),
                )

    def newest(self, limit: int) -> list[Block]:
        """Up to ``limit`` blocks, newest first."""
        with self._lock:
            rows = (
                self._open()
                .execute(
                    "SELECT number, parent, timestamp, nonce, hash"
                    " FROM blocks ORDER BY number DESC LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        return [Block(*row) for row in rows]

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            message = "the database is closed"
            raise RuntimeError(message)
        return self._connection


# Block production


@service
class BlockProducer:
    """Mines a block every ``interval`` seconds and stores it.

    The mining loop is the ``async def run(self)`` body: the container
    launches it once `start` has returned and cancels it when the node
    stops, before calling `stop`.
    """

    def __init__(self, settings: Settings, database: Database) -> None:
        self._database = database
        self._interval = settings.interval
        # Unhealthy after this long without a block.
        self._patience = max(5.0, 20 * settings.interval)
        self._tip: Block | None = None
        self._last_block_at = time.monotonic()

    @property
    def height(self) -> int:
        """The number of the newest block, 0 for an empty chain."""
        tip = self._tip
        return 0 if tip is None else tip.number

    @property
    def tip_hash(self) -> str:
        tip = self._tip
        return GENESIS_PARENT if tip is None else tip.hash

    def start(self) -> None:
        # A sync hook runs in a worker thread, so it may call the database
        # directly; the async run() body below goes through to_thread.
        self._tip = self._database.tip()
        self._last_block_at = time.monotonic()
        log.info("chain height is %d", self.height)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            block = self._mine()
            await asyncio.to_thread(self._database.add, block)
            self._tip = block
            self._last_block_at = time.monotonic()
            log.info("mined block %d %s", block.number, block.hash[:16])

    def stop(self) -> None:
        log.info("stopped mining at height %d", self.height)

    def status(self) -> None:
        quiet = time.monotonic() - self._last_block_at
        if quiet > self._patience:
            message = f"no block for {quiet:.1f}s"
            raise RuntimeError(message)

    def _mine(self) -> Block:
        number = self.height + 1
        parent = self.tip_hash
        timestamp = time.time()
        nonce = 0
        while True:
            digest = hashlib.sha256(
                f"{parent}{timestamp!r}{nonce}".encode()
            ).hexdigest()
            if digest.startswith("0" * DIFFICULTY):
                return Block(number, parent, timestamp, nonce, digest)
            nonce += 1


# Peers


@service
class PeerListener:
    """A TCP server for other nodes, one command per line.

    ``PING`` answers ``PONG``, ``HEIGHT`` the chain height, ``TIP`` the hash
    of the newest block, and ``QUIT`` closes the connection.
    """

    def __init__(self, settings: Settings, producer: BlockProducer) -> None:
        self._host = settings.host
        self._wanted_port = settings.peer_port
        self._producer = producer
        self._server: asyncio.Server | None = None
        self._peers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_peer, self._host, self._wanted_port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("peers connect to %s:%d", self._host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._peers):
            writer.close()
        await self._server.wait_closed()

    async def status(self) -> None:
        # Async, so it runs on the event loop that owns the server.
        if self._server is None or not self._server.is_serving():
            message = "not accepting peers"
            raise RuntimeError(message)

    def answer(self, command: str) -> str:
        if command == "PING":
            return "PONG"
        if command == "HEIGHT":
            return str(self._producer.height)
        if command == "TIP":
            return self._producer.tip_hash
        if command == "QUIT":
            return "BYE"
        return f"ERROR unknown command {command[:32]!r}"

    async def _serve_peer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._peers.add(writer)
        try:
            while line := await reader.readline():
                command = line.decode(errors="replace").strip().upper()
                writer.write(self.answer(command).encode() + b"\n")
                await writer.drain()
                if command == "QUIT":
                    break
        except (ConnectionError, ValueError):
            pass  # a peer that hangs up or sends an endless line
        finally:
            self._peers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


# HTTP


@service
class HttpApi:
    """A minimal HTTP/1.1 server: one JSON response per connection.

    ``GET /health`` reports every service, ``GET /blocks`` the newest
    blocks and ``GET /`` where this node can be reached.
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        producer: BlockProducer,
        peers: PeerListener,
        container: Container,
    ) -> None:
        # /health needs the health of every service, which only the
        # container knows. A parameter annotated with Container receives
        # the container itself, with no registration: it is not a service,
        # so it appears in neither the start order nor the statuses. (Given
        # to register_instance instead, it would be a service like any
        # other, and the lifecycle would call its start() and stop() as
        # hooks.)
        self._container = container
        self._host = settings.host
        self._wanted_port = settings.http_port
        self._database = database
        self._producer = producer
        self._peers = peers
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_client, self._host, self._wanted_port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("HTTP API on http://%s:%d/", self._host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._clients):
            writer.close()
        await self._server.wait_closed()

    async def status(self) -> None:
        if self._server is None or not self._server.is_serving():
            message = "not accepting requests"
            raise RuntimeError(message)

    async def health(self) -> tuple[HTTPStatus, object]:
        # astatuses(), not statuses(): this runs on the event loop that the
        # async status() hooks need.
        statuses = await self._container.astatuses()
        services = {
            _name(key): "ok" if error is None else _reason(error)
            for key, error in statuses.items()
        }
        healthy = all(error is None for error in statuses.values())
        code = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
        return code, {"healthy": healthy, "services": services}

    async def blocks(self) -> tuple[HTTPStatus, object]:
        newest = await asyncio.to_thread(self._database.newest, PAGE)
        listed = [
            {
                "number": b.number,
                "hash": b.hash,
                "parent": b.parent,
                "timestamp": b.timestamp,
                "nonce": b.nonce,
            }
            for b in newest
        ]
        return HTTPStatus.OK, {
            "height": self._producer.height,
            "blocks": listed,
        }

    async def info(self) -> tuple[HTTPStatus, object]:
        return HTTPStatus.OK, {
            "height": self._producer.height,
            "peers": f"{self._host}:{self._peers.port}",
            "endpoints": ["/health", "/blocks"],
        }

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._clients.add(writer)
        try:
            async with asyncio.timeout(10):
                code, body = await self._respond(reader)
            payload = json.dumps(body, indent=2).encode() + b"\n"
            head = (
                f"HTTP/1.1 {code.value} {code.phrase}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("ascii") + payload)
            await writer.drain()
        except (ConnectionError, TimeoutError, ValueError):
            pass  # a client that hangs up, stalls or sends garbage
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(
        self, reader: asyncio.StreamReader
    ) -> tuple[HTTPStatus, object]:
        request_line = (await reader.readline()).decode("latin-1").split()
        # The headers say nothing these routes need; read past them.
        while (await reader.readline()).strip():
            pass
        if len(request_line) != 3:
            return HTTPStatus.BAD_REQUEST, {"error": "malformed request"}
        method, target, _ = request_line
        if method != "GET":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "GET only"}
        route = {
            "/health": self.health,
            "/blocks": self.blocks,
            "/": self.info,
        }
        handler = route.get(urllib.parse.urlsplit(target).path)
        if handler is None:
            return HTTPStatus.NOT_FOUND, {"error": f"no route {target}"}
        return await handler()


def _name(key: object) -> str:
    return getattr(key, "__qualname__", None) or repr(key)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


# Readiness


@service
class Announcer:
    """Prints ``READY http=<port> peer=<port>`` once the node is up.

    It depends, through the API, on every other service, so it starts last,
    and its ``run()`` body begins only after its own start: by the time the
    line is printed, every service has started and /health says "ok" for
    all of them. The body then returns, which leaves the service running
    (the container logs that).
    """

    def __init__(self, api: HttpApi, peers: PeerListener) -> None:
        self._api = api
        self._peers = peers

    async def run(self) -> None:
        print(
            f"READY http={self._api.port} peer={self._peers.port}", flush=True
        )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
    )
    with tempfile.TemporaryDirectory(prefix="mainspring-node-") as scratch:
        settings = Settings.load(
            sys.argv[1:] if argv is None else argv, os.environ, Path(scratch)
        )
        # Container() takes every class decorated with @service above; the
        # settings come from the command line, so they join as a ready
        # instance, which is allowed until the container is first used.
        container = Container()
        container.register_instance(settings)
        try:
            container.run()
        except MainspringError as exc:
            log.error("the node failed: %s", exc)  # noqa: TRY400
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

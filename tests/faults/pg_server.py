"""A PostgreSQL server of the fault suite's own (initdb + pg_ctl under a tmp dir, another port), which a test
may stop and start again. initdb refuses root, so it runs as the `postgres` OS user. The machine's server is
never touched."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid

from sqlalchemy import create_engine, text

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = os.environ.get("PG_OS_USER", "postgres")


def _as_pg_user(args: list[str]) -> list[str]:
    return args if os.geteuid() != 0 else ["runuser", "-u", PG_USER, "--", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="faults-pg-")
        os.chmod(self.base, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.base, PG_USER, PG_USER)
        self.data = os.path.join(self.base, "data")
        self.log = os.path.join(self.base, "server.log")
        self.port = _free_port()
        self.running = False

    def _run(self, *args, timeout=60):
        return subprocess.run(_as_pg_user(list(args)), check=True, capture_output=True, text=True, timeout=timeout)

    def init(self):
        self._run(f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C.UTF-8")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.base}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
                       "shared_buffers = 32MB\n")
        return self

    def start(self):
        self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode="fast"):
        self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self) -> str:
        name = "f_" + uuid.uuid4().hex[:12]
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self):
        if self.running:
            try:
                self.stop("immediate")
            except Exception:
                pass
        shutil.rmtree(self.base, ignore_errors=True)

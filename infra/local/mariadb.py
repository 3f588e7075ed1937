"""MariaDB from Debian packages with its own datadir and socket under ``.stack/mariadb``.

The server runs as the invoking OS user; root inside MariaDB authenticates by that user's unix
socket, so provisioning needs no password, and the application connects over TCP 127.0.0.1 with the
``VITALSYNC_DB_*`` credentials.
"""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

import pymysql

from infra.local.component import Component, apt_install, find_binary
from infra.local.errors import StackError
from shared.db.migrations import DATABASE_OPTIONS


class MariaDB(Component):
    name = "mariadb"
    compose_service = "mysql"
    external_key = "db"
    startup_timeout_s = 60.0
    stop_timeout_s = 30.0

    @property
    def port(self) -> int:
        return self.settings.db_port

    @property
    def port_env(self) -> str:
        return "VITALSYNC_DB_PORT"

    @property
    def datadir(self) -> Path:
        return self.paths.data("mariadb") / "data"

    @property
    def socket(self) -> Path:
        return self.paths.data("mariadb") / "mysqld.sock"

    def client_env(self) -> dict[str, str]:
        """Environment for a process of ours on this host: our MariaDB's socket file instead of loopback
        TCP (the kernel time a TCP client pays per statement is a large share of a busy service's CPU)."""
        if self.external or self.settings.db_host not in ("127.0.0.1", "localhost"):
            return {}
        return {"VITALSYNC_DB_UNIX_SOCKET": str(self.socket)}

    def install(self) -> None:
        if not (find_binary(("mariadbd", "mysqld")) and find_binary(("mariadb-install-db", "mysql_install_db"))):
            apt_install(["mariadb-server"], "MariaDB (mariadbd)")

    def prepare(self) -> None:
        try:
            self.datadir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StackError(
                f"cannot create the MariaDB datadir {self.datadir} ({exc.strerror}); make it writable or "
                "set VITALSYNC_STACK_DIR elsewhere"
            ) from exc
        if (self.datadir / "mysql").is_dir():
            return
        if any(self.datadir.iterdir()):
            raise StackError(
                f"{self.datadir} is not empty but holds no MariaDB system tables (corrupt or foreign); "
                f"remove it (local data is lost) and run `vitalsync stack up` again"
            )
        install_db = find_binary(("mariadb-install-db", "mysql_install_db"))
        result = subprocess.run(  # noqa: S603
            [
                str(install_db),
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--user={getpass.getuser()}",
                "--auth-root-authentication-method=socket",
                f"--auth-root-socket-user={getpass.getuser()}",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise StackError(f"mariadb-install-db failed for {self.datadir}: {tail[0]}")

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        mariadbd = find_binary(("mariadbd", "mysqld"))
        return [
            str(mariadbd),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--pid-file={self.paths.data('mariadb') / 'mariadbd.pid'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--user={getpass.getuser()}",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--default-time-zone=+00:00",
            # Sized and tuned for a development box with an SSD, not a laptop minimum. With 256M the ingest
            # working set (readings, change_log, outbox indexes) stopped fitting after a few million rows;
            # with the HDD-era flushing defaults (io capacity 200, neighbour flushing) dirty pages piled up
            # and went out in 300-500 MB bursts that stalled every writer for 100-300 ms at once (the whole
            # p99 of an ingest run). Durability settings stay at their safe defaults.
            "--innodb-buffer-pool-size=1G",
            "--innodb-log-file-size=512M",
            "--innodb-io-capacity=2000",
            "--innodb-io-capacity-max=4000",
            "--innodb-flush-neighbors=0",
            "--max-connections=500",
            "--max-allowed-packet=64M",
        ], None

    def ready(self) -> bool:
        try:
            conn = pymysql.connect(
                host=self.settings.db_host,
                port=self.port,
                user=self.settings.db_user,
                password=self.settings.db_password.get_secret_value(),
                connect_timeout=2,
            )
        except pymysql.err.OperationalError as exc:
            # the server answers but refuses the app user (1045 denied, 1130 host not allowed, 1698
            # socket auth): it does not exist yet, and provisioning creates it once root gets in.
            return exc.args[0] in (1045, 1130, 1698) and self._socket_ready()
        conn.close()
        return True

    def _socket_ready(self) -> bool:
        return self._root_sql("SELECT 1").returncode == 0

    def provision(self) -> None:
        user, db = self.settings.db_user, self.settings.db_name
        password = self.settings.db_password.get_secret_value().replace("\\", "\\\\").replace("'", "\\'")
        # Grant on the `vitalsync%` name pattern: the schema check and tests create sibling databases.
        pattern = db.replace("_", "\\_") + "%"
        sql = (
            "".join(
                f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}';"
                f"ALTER USER '{user}'@'{host}' IDENTIFIED BY '{password}';"
                f"GRANT ALL PRIVILEGES ON `{pattern}`.* TO '{user}'@'{host}';"
                for host in ("127.0.0.1", "localhost")
            )
            + f"CREATE DATABASE IF NOT EXISTS `{db}` {DATABASE_OPTIONS};"
        )
        result = self._root_sql(sql)
        if result.returncode != 0:
            raise StackError(f"could not create the application user and database: {result.stderr.strip()}")

    def _root_sql(self, sql: str) -> subprocess.CompletedProcess[str]:
        """Run SQL as MariaDB root over the socket; the SQL goes through stdin, never argv."""
        client = find_binary(("mariadb", "mysql"))
        return subprocess.run(  # noqa: S603
            [str(client), "--no-defaults", f"--socket={self.socket}", "-u", "root", "--batch"],
            input=sql,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    def failure_hint(self) -> str:
        return (
            f"see {self.paths.log(self.name)}; if {self.datadir} is corrupt or unwritable, fix or remove it "
            "(local data is lost) and run `vitalsync stack up` again"
        )

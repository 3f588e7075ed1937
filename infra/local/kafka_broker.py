"""Apache Kafka 4.x, KRaft combined mode, one node, run with the JDK from jars Maven resolves.

No tarball: ``infra/local/kafka/pom.xml`` names the broker and a log4j2 binding; ``mvn
dependency:copy-dependencies`` copies them to ``.stack/kafka/libs``; the storage is formatted once
(``kafka.tools.StorageTool format --standalone``) and ``kafka.Kafka`` runs the broker (DESIGN section 3).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
import uuid
from pathlib import Path

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.local.component import Component, apt_install, find_binary
from infra.local.errors import StackError
from infra.local.processes import port_open

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
_HEAP = ["-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
_ADMIN_TIMEOUT_S = 10.0


class KafkaBroker(Component):
    name = "kafka"
    external_key = "kafka"
    startup_timeout_s = 90.0
    stop_timeout_s = 30.0

    @property
    def port(self) -> int:
        return int(self.settings.kafka_bootstrap.rsplit(":", 1)[1])

    @property
    def port_env(self) -> str:
        return "VITALSYNC_KAFKA_BOOTSTRAP"

    @property
    def controller_port(self) -> int:
        return int(os.environ.get("VITALSYNC_KAFKA_CONTROLLER_PORT", self.port + 1))

    @property
    def home(self) -> Path:
        return self.paths.data("kafka")

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    def install(self) -> None:
        if not find_binary(("java",)):
            apt_install(["openjdk-17-jre-headless"], "Java (to run Kafka)")
        pom = KAFKA_DIR / "pom.xml"
        # VITALSYNC_KAFKA_VERSION overrides the pom's kafka.version, e.g. to match a production cluster
        version = os.environ.get("VITALSYNC_KAFKA_VERSION", "")
        stamp = self.libs / ".pom.sha256"
        digest = hashlib.sha256(pom.read_bytes() + version.encode()).hexdigest()
        if stamp.is_file() and stamp.read_text() == digest:
            return
        if not find_binary(("mvn",)):
            apt_install(["maven"], "Maven (to resolve the Kafka jars)")
        self.libs.mkdir(parents=True, exist_ok=True)
        for old in self.libs.glob("*.jar"):
            old.unlink()
        result = subprocess.run(  # noqa: S603
            [
                str(find_binary(("mvn",))),
                "-B",
                "-Dstyle.color=never",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
                "-DincludeScope=runtime",
                *([f"-Dkafka.version={version}"] if version else []),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            errors = [ln for ln in result.stdout.splitlines() if "ERROR" in ln] or result.stderr.splitlines()
            cause = (errors[0] if errors else "no output").replace("[ERROR]", "").strip()[:300]
            raise StackError(
                f"Maven could not resolve the Kafka jars ({cause}); check access to Maven Central "
                "(or a mirror in ~/.m2/settings.xml), or use an external broker with "
                "VITALSYNC_KAFKA_BOOTSTRAP and VITALSYNC_STACK_EXTERNAL=kafka"
            )
        stamp.write_text(digest)

    def prepare(self) -> None:
        data = self.home / "data"
        config = self.home / "server.properties"
        config.write_text(self._server_properties(data))
        if (data / "meta.properties").is_file():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(  # noqa: S603
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(config),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise StackError(f"formatting Kafka storage in {data} failed: {tail[0]}; remove {data} and retry")

    def _java(self) -> list[str]:
        return [
            str(find_binary(("java",))),
            *_HEAP,
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
        ]

    def _server_properties(self, data: Path) -> str:
        port, controller = self.port, self.controller_port
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=1",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        return [*self._java(), "kafka.Kafka", str(self.home / "server.properties")], None

    def ready(self) -> bool:
        host = self.settings.kafka_bootstrap.split(",")[0].rsplit(":", 1)[0]
        if not port_open(self.port, host):
            return False
        try:
            asyncio.run(asyncio.wait_for(self._list_topics(), _ADMIN_TIMEOUT_S))
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            return False
        return True

    def provision(self) -> None:
        asyncio.run(self._create_topics())

    def declared_topics(self) -> list[NewTopic]:
        """Topics from kafka/topics.yaml, with VITALSYNC_KAFKA_PARTITIONS overriding the counts."""
        override = os.environ.get("VITALSYNC_KAFKA_PARTITIONS")
        spec = yaml.safe_load((KAFKA_DIR / "topics.yaml").read_text())["topics"]
        return [NewTopic(t["name"], int(override or t["partitions"]), replication_factor=1) for t in spec]

    async def _admin(self) -> AIOKafkaAdminClient:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=5000)
        await admin.start()
        return admin

    async def _list_topics(self) -> list[str]:
        admin = await self._admin()
        try:
            return list(await admin.list_topics())
        finally:
            await admin.close()

    async def _create_topics(self) -> None:
        admin = await self._admin()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in self.declared_topics() if t.name not in existing]
            if missing:
                await admin.create_topics(missing)
        finally:
            await admin.close()

    def failure_hint(self) -> str:
        return f"see {self.paths.log(self.name)}; if {self.home / 'data'} is corrupt, remove it and retry"

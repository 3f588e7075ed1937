"""moto server on 127.0.0.1: SQS, Cognito, SES, EventBridge and Step Functions over real AWS HTTP.

moto keeps state in memory, so resources are (re)declared from ``aws-resources.yaml`` after every
start; the ids AWS assigns (user pool, app client, queue URLs) are written to ``.stack/aws.json``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from infra.local.component import Component
from infra.local.errors import StackError

RESOURCES_FILE = Path(__file__).resolve().parent / "aws-resources.yaml"
# moto accepts any credentials; fixed dummy ones keep boto from searching the machine for real ones
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MotoServer(Component):
    name = "moto"
    external_key = "aws"
    startup_timeout_s = 30.0

    @property
    def port(self) -> int:
        return int((self.settings.aws_endpoint_url or "http://127.0.0.1:5000").rsplit(":", 1)[1].strip("/"))

    @property
    def port_env(self) -> str:
        return "VITALSYNC_AWS_ENDPOINT_URL"

    def install(self) -> None:
        if importlib.util.find_spec("moto.server") is None or importlib.util.find_spec("flask") is None:
            raise StackError(
                "moto server is not installed in this environment; run `make setup` "
                "(pip install -e '.[dev]') or point VITALSYNC_AWS_ENDPOINT_URL at AWS with "
                "VITALSYNC_STACK_EXTERNAL=aws"
            )

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)], None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    @property
    def endpoint(self) -> str:
        return (self.settings.aws_endpoint_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    def provision(self) -> None:
        resolved = declare_resources(
            self.endpoint, self.settings.aws_region, yaml.safe_load(RESOURCES_FILE.read_text())
        )
        self.paths.root.mkdir(parents=True, exist_ok=True)
        (self.paths.root / "aws.json").write_text(json.dumps(resolved, indent=2))


def declare_resources(endpoint: str, region: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Create what ``spec`` declares unless it exists; return the assigned ids and URLs."""
    import boto3  # dev dependency; imported here so the launcher's other commands do not need it

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name=region, **DUMMY_CREDENTIALS)

    sqs, idp, ses = client("sqs"), client("cognito-idp"), client("ses")
    queues: dict[str, str] = {}
    for queue in spec.get("sqs", []):
        attributes = {"VisibilityTimeout": str(queue.get("visibility_timeout_s", 30))}
        if queue.get("fifo"):
            attributes.update(FifoQueue="true", ContentBasedDeduplication="false")
        if "dead_letter" in queue:
            dlq = queue["dead_letter"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=queues[dlq["queue"]], AttributeNames=["QueueArn"])
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
                    "maxReceiveCount": str(dlq["max_receive_count"]),
                }
            )
        queues[queue["name"]] = sqs.create_queue(QueueName=queue["name"], Attributes=attributes)["QueueUrl"]

    pool_name, client_name = spec["cognito"]["user_pool"], spec["cognito"]["app_client"]
    pools = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == pool_name]
    policy = {"PasswordPolicy": spec["cognito"].get("password_policy", {})}
    pool_id = pools[0]["Id"] if pools else idp.create_user_pool(PoolName=pool_name, Policies=policy)["UserPool"]["Id"]
    clients = [
        c
        for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
        if c["ClientName"] == client_name
    ]
    client_id = (
        clients[0]["ClientId"]
        if clients
        else idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=client_name,
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
    )

    for sender in spec.get("ses", {}).get("verified_senders", []):
        ses.verify_email_identity(EmailAddress=sender)
    return {
        "endpoint": endpoint,
        "region": region,
        "sqs": queues,
        "cognito": {"user_pool_id": pool_id, "app_client_id": client_id},
    }

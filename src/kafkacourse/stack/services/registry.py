"""The schema registry: Apicurio Registry 3 with its schemas in an H2 file under <home>/registry (kept across
restarts), answering Confluent's API at /apis/ccompat/v7 on port 8081.

When the registry starts on a new database (first start, or after `kafkacourse reset --with registry`), its
global compatibility is set to BACKWARD, Confluent Schema Registry's default (Apicurio has no global rule by
default, which its ccompat API reports as NONE); a level a lesson sets later stays across restarts.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from .. import runtime
from .base import JvmService

PORT = 8081
API = "/apis/ccompat/v7"
DEFAULT_COMPATIBILITY = "BACKWARD"


class SchemaRegistry(JvmService):
    name = "registry"
    kind = "registry"
    title = "schema registry"
    process_name = "registry"
    default_port = PORT

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}{API}"

    def ports(self) -> dict[int, str]:
        return {self.port: "schema registry"}

    def _where(self) -> str:
        return f" at {self.url}"

    def starting_message(self) -> str:
        return f"Starting Apicurio Registry {runtime.versions().apicurio} on :{self.port}…"

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/subjects", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    answering = answers

    def command(self) -> list[str]:
        db = self.data_dir / "db" / "registry"
        return [
            # C1 only and the serial GC: the registry starts faster and its load is light.
            self.java(), "-Xms64m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
            *self.extra_jvm_args(),
            f"-Dquarkus.http.port={self.port}", "-Dquarkus.http.host=127.0.0.1",
            "-Dapicurio.storage.sql.kind=h2",
            f"-Dapicurio.datasource.url=jdbc:h2:file:{db};DB_CLOSE_ON_EXIT=FALSE",
            "-Dapicurio.rest.deletion.artifact.enabled=true",
            "-Dapicurio.rest.deletion.artifact-version.enabled=true",
            "-Dapicurio.rest.deletion.group.enabled=true",
            "-jar", str(runtime.registry_jar()),
        ]

    def prepare(self, progress) -> None:
        if not (self.data_dir / "db").exists():  # a new database: give it Confluent's default once it answers
            self._defaults_marker.write_text("pending\n")

    def wait_ready(self, timeout: float = 90.0) -> None:
        super().wait_ready(timeout)
        self.apply_defaults()

    # -- Confluent's defaults --------------------------------------------------------------------------------
    @property
    def _defaults_marker(self) -> Path:
        return self.data_dir / "defaults"

    def global_compatibility(self) -> str:
        """The registry's global compatibility level (GET /config)."""
        with urllib.request.urlopen(self.url + "/config", timeout=5) as resp:
            return json.load(resp)["compatibilityLevel"]

    def apply_defaults(self) -> None:
        """Set the global compatibility to BACKWARD if this database is new (idempotent: once per database)."""
        try:
            pending = self._defaults_marker.read_text().strip() == "pending"
        except OSError:
            return
        if not pending:
            return
        request = urllib.request.Request(
            self.url + "/config", data=json.dumps({"compatibility": DEFAULT_COMPATIBILITY}).encode(), method="PUT",
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            resp.read()
        self._defaults_marker.write_text(f"global compatibility set to {DEFAULT_COMPATIBILITY}\n")

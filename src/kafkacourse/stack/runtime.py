"""Where the stack lives on disk, which Java and Maven it uses, and resolving its jars from Maven Central."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .errors import JavaNotFoundError, MavenError

RESOURCES = Path(__file__).resolve().parent
POM = RESOURCES / "pom.xml"
MIN_JAVA = 17

INSTALL_JAVA_HINT = (
    "Install a JDK 17: `conda env create -f environment.yml` brings one (openjdk=17), "
    "or on Debian/Ubuntu `sudo apt-get install openjdk-17-jdk-headless`; "
    "then open a new shell, or point JAVA_HOME at it."
)
INSTALL_MAVEN_HINT = (
    "Install Maven: `conda env create -f environment.yml` brings it, "
    "or on Debian/Ubuntu `sudo apt-get install maven`."
)


def home() -> Path:
    """The folder holding the jars cache and the stacks' data: $KAFKA_COURSE_HOME, else ~/.kafka-course."""
    return Path(os.environ.get("KAFKA_COURSE_HOME") or Path.home() / ".kafka-course")


@dataclass(frozen=True)
class Versions:
    kafka: str
    apicurio: str
    debezium: str
    jmx_exporter: str


@functools.lru_cache(maxsize=1)
def versions() -> Versions:
    """The pinned versions, read from the pom (the one place they are written)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = ET.parse(POM).getroot().find("m:properties", ns)
    if props is None:
        raise MavenError(f"{POM} has no <properties>")

    def prop(name: str) -> str:
        value = props.findtext(f"m:{name}", namespaces=ns)
        if not value:
            raise MavenError(f"{POM} does not set {name}")
        return value.strip()

    return Versions(kafka=prop("kafka.version"), apicurio=prop("apicurio.version"),
                    debezium=prop("debezium.version"), jmx_exporter=prop("jmx-exporter.version"))


def kafka_libs() -> Path:
    return home() / "jars" / f"kafka-{versions().kafka}" / "libs"


def registry_jar() -> Path:
    return home() / "jars" / f"apicurio-{versions().apicurio}" / f"apicurio-registry-app-{versions().apicurio}-runner.jar"


def connect_plugin_path() -> Path:
    """The Kafka Connect worker's plugin.path: the Debezium PostgreSQL connector's bundle, unpacked by the pom."""
    return home() / "jars" / f"connect-plugins-{versions().debezium}" / "plugins"


def day4_jars() -> list[Path]:
    """Files that prove the Day 4 artifacts were resolved (results, not Maven's markers)."""
    v = versions()
    return [
        kafka_libs() / f"connect-mirror-{v.kafka}.jar",
        kafka_libs() / f"connect-file-{v.kafka}.jar",
        connect_plugin_path() / "debezium-connector-postgres" / f"debezium-connector-postgres-{v.debezium}.jar",
        home() / "jars" / f"jmx-exporter-{v.jmx_exporter}" / f"jmx_prometheus_javaagent-{v.jmx_exporter}.jar",
    ]


def java_executable() -> str:
    """Path of a `java` of version 17 or newer ($JAVA_HOME first, then PATH), or a JavaNotFoundError."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    seen = []
    for java in candidates:
        version = java_major_version(java)
        if version is None:
            continue
        if version >= MIN_JAVA:
            return java
        seen.append(f"{java} is Java {version}")
    found = "; ".join(seen) if seen else "no `java` in $JAVA_HOME or on PATH"
    raise JavaNotFoundError(f"Kafka {versions().kafka} needs Java {MIN_JAVA} or newer ({found}). {INSTALL_JAVA_HINT}")


@functools.lru_cache(maxsize=8)
def java_major_version(java: str) -> int | None:
    """The major version `java -version` reports (8 for 1.8), or None when it does not run."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def jars_ready() -> bool:
    return (kafka_libs() / ".complete").exists() and registry_jar().exists() and all(p.exists() for p in day4_jars())


def resolve_jars(progress=print) -> None:
    """Resolve the broker, tools and registry jars with Maven into home()/jars, once; later calls do nothing."""
    if jars_ready():
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenError(f"Maven is needed once, to fetch the Kafka jars, and `mvn` is not on PATH. {INSTALL_MAVEN_HINT}")
    java = java_executable()
    progress(f"Resolving Kafka {versions().kafka}, Apicurio Registry {versions().apicurio}, Debezium "
             f"{versions().debezium} and JMX exporter {versions().jmx_exporter} jars with Maven (once)…")
    env = dict(os.environ, JAVA_HOME=str(Path(java).resolve().parent.parent))
    out = subprocess.run(
        [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(POM), f"-Dcourse.cache={home() / 'jars'}", "process-resources"],
        capture_output=True, text=True, env=env, cwd=RESOURCES,
    )
    if out.returncode != 0:
        raise MavenError("Maven could not resolve the stack's jars:\n" + maven_error_summary(out.stdout + out.stderr))
    # Check the result, not Maven's word for it: a stale marker once made it skip an unpack and say nothing.
    missing = [str(path) for path in (registry_jar(), *day4_jars()) if not path.exists()]
    if not any(kafka_libs().glob("kafka_2.13-*.jar")):
        missing.append(f"{kafka_libs()}/kafka_2.13-*.jar")
    if missing:
        raise MavenError(f"Maven finished but did not produce {', '.join(missing)}. Delete {home() / 'jars'} "
                         "and run `kafkacourse up` again.\n" + maven_error_summary(out.stdout + out.stderr))
    (kafka_libs() / ".complete").write_text(versions().kafka)
    progress("Jars ready.")


def maven_error_summary(output: str, max_lines: int = 12) -> str:
    """The [ERROR] lines of a Maven run (its cause), or its last lines when it printed none."""
    lines = [line for line in output.splitlines() if "[ERROR]" in line and line.strip() != "[ERROR]"]
    lines = lines or output.strip().splitlines()
    return "\n".join(lines[:max_lines])


STREAMS_PROJECT = RESOURCES / "streams"
STREAMS_MAIN = "io.github.kafkacourse.streams.OrderStreams"


def _streams_sources_digest() -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in STREAMS_PROJECT.rglob("*") if p.is_file() and "target" not in p.parts):
        digest.update(str(path.relative_to(STREAMS_PROJECT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def streams_app_home() -> Path:
    """Where the course's Kafka Streams app is built: home()/jars/streams-app-<kafka version>."""
    return home() / "jars" / f"streams-app-{versions().kafka}"


def streams_app_classpath(progress=print) -> str:
    """The classpath of the course's Kafka Streams app (stack/streams/), compiled by Maven once per source change.

    The jar, its dependencies (kafka-streams 4.3.1, …) and Maven's build folder all live in home()/jars; a
    `.complete` file there records the digest of the sources it was built from, so an edited topology is rebuilt
    on the next call and an unchanged one never is. Run it with ``java -cp <classpath> {STREAMS_MAIN}``.
    """
    target = streams_app_home()
    marker = target / ".complete"
    digest = _streams_sources_digest()
    if not (marker.exists() and marker.read_text().strip() == digest and (target / "course-streams.jar").exists()):
        mvn = shutil.which("mvn")
        if mvn is None:
            raise MavenError(f"Maven is needed once, to build the course's Kafka Streams app, and `mvn` is not on "
                             f"PATH. {INSTALL_MAVEN_HINT}")
        java = java_executable()
        progress(f"Building the Kafka Streams app (kafka-streams {versions().kafka}) with Maven (once)…")
        shutil.rmtree(target, ignore_errors=True)  # copy-dependencies adds jars, never removes a stale one
        env = dict(os.environ, JAVA_HOME=str(Path(java).resolve().parent.parent))
        out = subprocess.run(
            [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(STREAMS_PROJECT / "pom.xml"),
             f"-Dcourse.cache={home() / 'jars'}", f"-Dkafka.version={versions().kafka}", "package"],
            capture_output=True, text=True, env=env, cwd=STREAMS_PROJECT,
        )
        if out.returncode != 0:
            raise MavenError("Maven could not build the Kafka Streams app:\n" + maven_error_summary(out.stdout + out.stderr))
        if not (target / "course-streams.jar").exists() or not any((target / "libs").glob("kafka-streams-*.jar")):
            raise MavenError(f"Maven finished but {target} holds no course-streams.jar and kafka-streams jar. Delete "
                             f"{target} and try again.\n" + maven_error_summary(out.stdout + out.stderr))
        marker.write_text(digest)
        progress("Kafka Streams app ready.")
    return os.pathsep.join([str(target / "course-streams.jar"), str(target / "libs" / "*")])

"""The upstream Kafka command-line tools, by their upstream names, run from the stack's own jars.

`bin/kafka-topics.sh` and its siblings are links to `bin/kafka-tool`, which runs
``python -m kafkacourse.tools <script name> <args>``; this module picks the tool class and execs java.
"""

from __future__ import annotations

import os
import sys

from ..stack import runtime

TOOL_CLASSES = {
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer.sh": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer.sh": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-consumer-groups.sh": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-configs.sh": "kafka.admin.ConfigCommand",
    "kafka-producer-perf-test.sh": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test.sh": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-metadata-quorum.sh": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-get-offsets.sh": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-log-dirs.sh": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-dump-log.sh": "org.apache.kafka.tools.DumpLogSegments",
    "kafka-transactions.sh": "org.apache.kafka.tools.TransactionsCommand",
    "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
    "kafka-leader-election.sh": "org.apache.kafka.tools.LeaderElectionCommand",
    "kafka-reassign-partitions.sh": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-features.sh": "org.apache.kafka.tools.FeatureCommand",
    "kafka-storage.sh": "kafka.tools.StorageTool",
}


def java_command(tool: str, args: list[str]) -> list[str]:
    """The java command line that runs upstream `tool` (e.g. "kafka-topics.sh") with `args`."""
    try:
        main_class = TOOL_CLASSES[tool]
    except KeyError:
        raise SystemExit(f"unknown tool {tool!r}; the course provides: {', '.join(sorted(TOOL_CLASSES))}") from None
    runtime.resolve_jars(progress=lambda msg: print(msg, file=sys.stderr))
    return [
        runtime.java_executable(), "-Xmx512m",
        f"-Dlog4j2.configurationFile={runtime.RESOURCES / 'tools-log4j2.properties'}",
        "-cp", f"{runtime.kafka_libs()}/*", main_class, *args,
    ]


# The option by which each tool takes a client properties file (as the Java tools' --command-config).
CONFIG_OPTIONS = {tool: "--command-config" for tool in (
    "kafka-topics.sh", "kafka-consumer-groups.sh", "kafka-configs.sh", "kafka-metadata-quorum.sh",
    "kafka-get-offsets.sh", "kafka-log-dirs.sh", "kafka-transactions.sh", "kafka-acls.sh",
    "kafka-leader-election.sh", "kafka-reassign-partitions.sh", "kafka-features.sh")}
CONFIG_OPTIONS.update({"kafka-console-producer.sh": "--producer.config", "kafka-producer-perf-test.sh": "--producer.config",
                       "kafka-console-consumer.sh": "--consumer.config", "kafka-consumer-perf-test.sh": "--consumer.config"})
ALL_CONFIG_OPTIONS = set(CONFIG_OPTIONS.values()) | {"--command-config", "--admin.config"}


def with_environment_config(tool: str, args: list[str], env: dict[str, str] | None = None) -> list[str]:
    """`args`, plus the tool's client-config option pointing at a properties file made from the environment's
    client settings (KAFKA_CLIENT_CONFIG, KAFKA_CLIENT_*: see kafkacourse.connection) when there are any, the
    tool takes such a file and the caller gave none — so ``!kafka-topics.sh --bootstrap-server …`` in a lesson
    reaches a secured remote cluster unchanged. Otherwise `args` as they are."""
    import tempfile

    from ..client_env import environment_settings, java_client_properties

    client, _ = environment_settings(os.environ if env is None else env)
    option = CONFIG_OPTIONS.get(tool)
    lines = java_client_properties(client)
    if not lines or option is None or ALL_CONFIG_OPTIONS & {a.split("=", 1)[0] for a in args}:
        return args
    with tempfile.NamedTemporaryFile("w", prefix="kafkacourse-tool-", suffix=".properties", delete=False) as f:
        f.write("# Made by kafkacourse.course.tools from KAFKA_CLIENT_CONFIG / KAFKA_CLIENT_*\n" + "\n".join(lines) + "\n")
    return [*args, option, f.name]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        raise SystemExit(f"usage: python -m kafkacourse.tools <tool> [args]; tools: {', '.join(sorted(TOOL_CLASSES))}")
    tool = os.path.basename(argv[0])
    command = java_command(tool, with_environment_config(tool, argv[1:]))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()

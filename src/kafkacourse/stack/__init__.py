"""The Docker-free local stack: real Kafka (KRaft) and a schema registry as processes on this machine."""

from .errors import JavaNotFoundError, MavenError, NotReadyError, PortInUseError, ProcessDiedError, StackError
from .local import REGISTRY_PORT, TOPOLOGIES, LocalStack, running_stacks
from .runtime import home, java_executable, resolve_jars, versions

__all__ = [
    "LocalStack", "running_stacks", "TOPOLOGIES", "REGISTRY_PORT",
    "StackError", "JavaNotFoundError", "MavenError", "PortInUseError", "ProcessDiedError", "NotReadyError",
    "home", "java_executable", "resolve_jars", "versions",
]

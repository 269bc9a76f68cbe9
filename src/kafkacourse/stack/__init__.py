"""The Docker-free local stack: real Kafka (KRaft) and its services as processes on this machine.

``profiles`` describes each named cluster as data, ``services/`` holds one module per service (brokers, the
schema registry, …), ``local.LocalStack`` runs a profile with its services, ``runtime`` finds Java and resolves
the jars, ``processes`` starts and stops OS processes, ``certificates`` makes the secure profile's TLS material.
"""

from . import profiles
from .errors import JavaNotFoundError, MavenError, NotReadyError, PortInUseError, ProcessDiedError, StackError
from .local import LocalStack, all_services, all_stacks, down_everything, running_services, running_stacks
from .profiles import Profile
from .runtime import home, java_executable, resolve_jars, versions
from .services import JVM_ARGS, SERVICES

__all__ = [
    "LocalStack", "running_stacks", "running_services", "all_stacks", "all_services", "down_everything",
    "profiles", "Profile", "SERVICES", "JVM_ARGS",
    "StackError", "JavaNotFoundError", "MavenError", "PortInUseError", "ProcessDiedError", "NotReadyError",
    "home", "java_executable", "resolve_jars", "versions",
]

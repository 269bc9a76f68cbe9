"""Errors the local stack raises: each message says what went wrong and what to do about it."""

from __future__ import annotations


class StackError(RuntimeError):
    """Something stopped the local Kafka stack from starting or answering."""


class JavaNotFoundError(StackError):
    """No Java 17+ runtime was found."""


class MavenError(StackError):
    """Maven is missing, or could not resolve the stack's jars."""


class PortInUseError(StackError):
    """A port the stack needs is taken by another process."""


class ProcessDiedError(StackError):
    """A broker or the registry exited while starting; the message carries the end of its log."""


class NotReadyError(StackError, TimeoutError):
    """The stack did not answer within the time allowed."""

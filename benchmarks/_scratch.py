"""For the benchmarks: a scratch KAFKA_COURSE_HOME sharing the jars cache, with every port moved by a free
offset, so a measured stack starts beside the course's own and leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kafkacourse.stack import profiles, runtime


@contextlib.contextmanager
def scratch_course_home(prefix: str) -> Iterator[Path]:
    runtime.resolve_jars()  # cached jars are the premise of every start-up target
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        (Path(scratch) / "jars").symlink_to(runtime.home() / "jars")
        os.environ["KAFKA_COURSE_HOME"] = scratch
        os.environ[profiles.PORT_OFFSET_ENV] = str(profiles.free_offset())
        yield Path(scratch)

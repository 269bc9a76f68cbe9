"""Day 4 — production operations and performance: the apps and services the Day 4 lessons start, test and
measure (consumer and producer services run as real processes through ``kafkacourse.instruments.processes``)."""

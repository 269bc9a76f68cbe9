"""Day 4 — production operations and performance: the consumer and producer services the scaling and tuning
lessons start as real processes (``kafkacourse.instruments.processes.ServiceProcess``), several at a time."""

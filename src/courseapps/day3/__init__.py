"""Day 3 — consumer engineering and offset management: the consumer services the lessons start as real
processes (through ``kafkacourse.instruments.processes.ServiceProcess``), SIGKILL and restart."""

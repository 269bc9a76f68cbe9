"""Day 4 — production operations: the apps and services the Day 4 lessons start, test and measure."""

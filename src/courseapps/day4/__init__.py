"""Day 4 apps: production operations — monitoring, Kafka Connect and CDC, scaling, stream processing, testing."""

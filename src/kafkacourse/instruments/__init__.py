"""The experiments' machinery: what a lesson uses to make Kafka's behaviour visible and countable.

One module per concept, imported where a lesson needs it (``from kafkacourse.instruments import ledger``):
``ledger`` (losses, duplicates, reordering), ``crash`` (consume-process-commit crashes), ``rebalance``
(assignment recorder), ``replication`` (leaders, ISR, chaos sampling), ``faults`` (fault-injection proxy),
``producers`` (producer latency probes, setting sweeps, numbered streams), ``load`` (concurrent HTTP load),
``latency`` (latency distributions), ``aio`` (asyncio producer bridge), ``naming`` (topic and event-type
lint), ``schemas`` (the repo's schema files, registered schema-first), ``evolution`` (the live compatibility
matrix), ``offsets`` (high watermark vs last stable offset, lag to each), ``processes`` (services, and JVM services, as
real child processes), ``windows`` (event-time windowed counts in Python), ``streams`` (the course's Kafka
Streams app as a JVM process, its internal topics, its cleanup), ``mock_cluster`` (librdkafka's mock cluster),
``contracts`` (pact message contracts), ``testing`` (run a pytest file, read back its outcomes),
``scaling`` (consumer groups and producers as processes,
lag from the broker), ``perf`` (Kafka's perf tools parsed, and the same measurements from Python), ``security`` (clients tried as a principal, refusals as rows; SCRAM users, ACLs, certificates: Day 5),
``capture`` (tcpdump on a loopback port, payloads searched: Day 5), ``encryption`` (AES-GCM field-level
encryption, key ids in headers, rotation: Day 5), ``mirror`` (MirrorMaker 2 flows, a scratch primary to kill,
RPO/RTO of a failover: Day 5).
"""

"""The experiments' machinery: what a lesson uses to make Kafka's behaviour visible and countable.

One module per concept, imported where a lesson needs it (``from kafkacourse.instruments import ledger``):
``ledger`` (losses, duplicates, reordering), ``crash`` (consume-process-commit crashes), ``rebalance``
(assignment recorder), ``replication`` (leaders, ISR, chaos sampling), ``faults`` (fault-injection proxy),
``producers`` (producer latency probes, setting sweeps, numbered streams), ``load`` (concurrent HTTP load),
``latency`` (latency distributions), ``aio`` (asyncio producer bridge), ``naming`` (topic and event-type
lint), ``schemas`` (the repo's schema files, registered schema-first), ``evolution`` (the live compatibility
matrix), ``scaling`` (consumer groups and producers as processes, lag from the broker), ``perf`` (Kafka's
perf tools parsed, and the same measurements from Python).
"""

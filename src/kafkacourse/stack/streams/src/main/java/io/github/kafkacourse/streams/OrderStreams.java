package io.github.kafkacourse.streams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.StateRestoreListener;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

/**
 * The course's Kafka Streams topology (Day 4, lesson 05).
 *
 * <pre>
 * orders    (key order_id, value {"order_id","customer","amount"}, record timestamp = event time)
 *   -> selectKey(customer) -> repartition "orders-by-customer"
 *        -> count()                                   store "order-totals"    -> PREFIX-totals   (every update)
 *        -> 10 s tumbling windows, grace G, count()   store "tumbling-counts" -> PREFIX-tumbling (final, on close)
 *        -> 10 s windows hopping by 5 s, grace G      store "hopping-counts"  -> PREFIX-hopping  (final, on close)
 *        -> join(customers table)                                             -> PREFIX-enriched
 * customers (key customer, value {"name","tier"})     -> KTable, store "customers"
 * </pre>
 *
 * Usage: OrderStreams BOOTSTRAP APPLICATION_ID ORDERS CUSTOMERS OUTPUT_PREFIX STATE_DIR [WINDOW_MS ADVANCE_MS GRACE_MS]
 * It prints one line per milestone: "STATE RUNNING", "RESTORED store=... partition=... records=N", "STOPPED".
 */
public final class OrderStreams {
    private static final ObjectMapper JSON = new ObjectMapper();

    private OrderStreams() { }

    static JsonNode parse(String value) {
        try {
            return JSON.readTree(value);
        } catch (Exception e) {
            throw new IllegalArgumentException("not JSON: " + value, e);
        }
    }

    static String windowJson(Windowed<String> window, Long count) {
        ObjectNode node = JSON.createObjectNode();
        node.put("customer", window.key());
        node.put("start", window.window().start());
        node.put("end", window.window().end());
        node.put("count", count);
        return node.toString();
    }

    public static Topology topology(String orders, String customers, String prefix,
                                    Duration size, Duration advance, Duration grace) {
        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, String> customerTable = builder.table(customers, Consumed.with(Serdes.String(), Serdes.String()),
                Materialized.as("customers"));
        KStream<String, String> byCustomer = builder.stream(orders, Consumed.with(Serdes.String(), Serdes.String()))
                .selectKey((orderId, order) -> parse(order).get("customer").asText())
                .repartition(Repartitioned.<String, String>as("orders-by-customer")
                        .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()));
        KGroupedStream<String, String> grouped = byCustomer.groupByKey();

        grouped.count(Materialized.as("order-totals")).toStream()
                .to(prefix + "-totals", Produced.with(Serdes.String(), Serdes.Long()));

        grouped.windowedBy(TimeWindows.ofSizeAndGrace(size, grace))
                .count(Materialized.as("tumbling-counts"))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("tumbling-final"))
                .toStream()
                .map((window, count) -> KeyValue.pair(window.key(), windowJson(window, count)))
                .to(prefix + "-tumbling", Produced.with(Serdes.String(), Serdes.String()));

        grouped.windowedBy(TimeWindows.ofSizeAndGrace(size, grace).advanceBy(advance))
                .count(Materialized.as("hopping-counts"))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("hopping-final"))
                .toStream()
                .map((window, count) -> KeyValue.pair(window.key(), windowJson(window, count)))
                .to(prefix + "-hopping", Produced.with(Serdes.String(), Serdes.String()));

        byCustomer.join(customerTable, (order, customer) -> {
            ObjectNode enriched = (ObjectNode) parse(order);
            JsonNode c = parse(customer);
            enriched.put("name", c.get("name").asText());
            enriched.put("tier", c.get("tier").asText());
            return enriched.toString();
        }).to(prefix + "-enriched", Produced.with(Serdes.String(), Serdes.String()));
        return builder.build();
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 6 && args.length != 9) {
            System.err.println("usage: OrderStreams BOOTSTRAP APPLICATION_ID ORDERS CUSTOMERS OUTPUT_PREFIX STATE_DIR"
                    + " [WINDOW_MS ADVANCE_MS GRACE_MS]");
            System.exit(2);
        }
        Duration size = Duration.ofMillis(args.length == 9 ? Long.parseLong(args[6]) : 10_000);
        Duration advance = Duration.ofMillis(args.length == 9 ? Long.parseLong(args[7]) : 5_000);
        Duration grace = Duration.ofMillis(args.length == 9 ? Long.parseLong(args[8]) : 5_000);

        Properties props = new Properties();
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[5]);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        // Exactly-once: a SIGKILL neither loses nor double-counts what was committed.
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        // No record cache: every update of "order-totals" is forwarded, so the totals topic shows each count.
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        // A single broker: internal topics with one replica.
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        // A SIGKILLed member is dropped from the group after 6 s (the broker's minimum), not 45 s.
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6_000);
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1_500);

        KafkaStreams streams = new KafkaStreams(
                topology(args[2], args[3], args[4], size, advance, grace), props);
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                System.out.printf("RESTORING store=%s changelog=%s offsets=%d..%d%n", store, tp, start, end);
            }

            @Override
            public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long numRestored) { }

            @Override
            public void onRestoreEnd(TopicPartition tp, String store, long totalRestored) {
                System.out.printf("RESTORED store=%s changelog=%s records=%d%n", store, tp, totalRestored);
            }
        });
        streams.setStateListener((now, before) -> System.out.printf("STATE %s after %d ms of JVM uptime%n", now,
                ManagementFactory.getRuntimeMXBean().getUptime()));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // SIGTERM: leave the group on the way out (Streams stays a member by default, to spare a rebalance).
            streams.close(CloseOptions.timeout(Duration.ofSeconds(20))
                    .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
            System.out.println("STOPPED");
            stopped.countDown();
        }));
        streams.start();
        stopped.await();
    }
}

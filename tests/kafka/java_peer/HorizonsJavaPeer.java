// Kafka's own Java client as an interop peer for tests/kafka/java_peer_test.cpp. It knows nothing
// of Horizons: it moves bytes, and the C++ test decides whether they are right. Only the stable
// public API of kafka-clients (KafkaProducer, KafkaConsumer, assign/seek), so it runs with the
// kafka-clients jar of Kafka 3.9 or 4.x (run with 3.9.2 and with 4.4.0, against the 3.9.2 cluster).
// Run with Java's single-file source launcher (needs a JDK, not only a JRE):
//
//   java -cp 'tools/kafka/.run/lib/*' HorizonsJavaPeer.java produce BOOTSTRAP TOPIC FILE
//     FILE holds one record a line, "<hex key>\t<hex value>". Sent keyed, with the DEFAULT
//     partitioner (none configured: murmur2 of the key), acks=all, idempotence as the client's
//     default. Prints, in input order, "sent <line index> <partition> <offset>" from each
//     RecordMetadata. Exit 1 if any send fails.
//
//   java -cp ... HorizonsJavaPeer.java consume BOOTSTRAP TOPIC TIMEOUT_MS PARTITION:FROM:UNTIL...
//     No group: the partitions named are assigned and read from offset FROM up to (not including)
//     UNTIL. Prints one line per record:
//       record <partition> <offset> <hex key or -> <hex value> [<hex header name>=<hex header value>]...
//     Exit 0 once every range is read; exit 3 after TIMEOUT_MS, naming the partitions not read to their end.
//
// Both modes first print "peer kafka-clients <version>".
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class HorizonsJavaPeer {
  private HorizonsJavaPeer() {}

  public static void main(String[] args) throws Exception {
    if (args.length >= 4 && args[0].equals("produce")) {
      System.out.println("peer kafka-clients " + clientVersion());
      System.exit(produce(args[1], args[2], Path.of(args[3])));
    } else if (args.length >= 5 && args[0].equals("consume")) {
      System.out.println("peer kafka-clients " + clientVersion());
      List<String> ranges = List.of(args).subList(4, args.length);
      System.exit(consume(args[1], args[2], Long.parseLong(args[3]), ranges));
    }
    System.err.println("usage: HorizonsJavaPeer produce BOOTSTRAP TOPIC FILE\n"
        + "       HorizonsJavaPeer consume BOOTSTRAP TOPIC TIMEOUT_MS PARTITION:FROM:UNTIL...");
    System.exit(2);
  }

  // The version kafka-clients records in its jar (AppInfoParser reads the same file, but that class
  // is internal and moved in Kafka 4).
  static String clientVersion() {
    try (InputStream in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
      Properties props = new Properties();
      if (in != null) props.load(in);
      return props.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  static int produce(String bootstrap, String topic, Path file) throws IOException, InterruptedException {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("client.id", "horizons-java-peer-producer");
    props.put("acks", "all");
    props.put("key.serializer", ByteArraySerializer.class.getName());
    props.put("value.serializer", ByteArraySerializer.class.getName());
    List<Future<RecordMetadata>> sent = new ArrayList<>();
    int failed = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      for (String line : Files.readAllLines(file, StandardCharsets.US_ASCII)) {
        if (line.isEmpty()) continue;
        String[] fields = line.split("\t", -1);
        if (fields.length != 2) throw new IllegalArgumentException("not '<hex key>\\t<hex value>': " + line);
        sent.add(producer.send(new ProducerRecord<>(topic, unhex(fields[0]), unhex(fields[1]))));
      }
      producer.flush();
      for (int i = 0; i < sent.size(); ++i) {
        try {
          RecordMetadata at = sent.get(i).get();
          System.out.println("sent " + i + " " + at.partition() + " " + at.offset());
        } catch (ExecutionException e) {
          System.err.println("HorizonsJavaPeer: record " + i + " failed: " + e.getCause());
          ++failed;
        }
      }
    }
    System.out.flush();
    return failed == 0 ? 0 : 1;
  }

  static int consume(String bootstrap, String topic, long timeoutMs, List<String> ranges) {
    Map<TopicPartition, long[]> wanted = new HashMap<>();  // partition -> {from, until}
    for (String range : ranges) {
      String[] p = range.split(":");
      if (p.length != 3) throw new IllegalArgumentException("not PARTITION:FROM:UNTIL: " + range);
      wanted.put(new TopicPartition(topic, Integer.parseInt(p[0])),
                 new long[] {Long.parseLong(p[1]), Long.parseLong(p[2])});
    }
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("client.id", "horizons-java-peer-consumer");
    props.put("enable.auto.commit", "false");
    props.put("auto.offset.reset", "earliest");
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    long printed = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      consumer.assign(wanted.keySet());
      wanted.forEach((tp, range) -> consumer.seek(tp, range[0]));
      StringBuilder line = new StringBuilder();
      while (true) {
        List<TopicPartition> behind = new ArrayList<>();
        for (Map.Entry<TopicPartition, long[]> w : wanted.entrySet()) {
          if (consumer.position(w.getKey()) < w.getValue()[1]) behind.add(w.getKey());
        }
        if (behind.isEmpty()) break;
        if (System.nanoTime() > deadline) {
          System.out.flush();
          System.err.println("HorizonsJavaPeer: timed out after " + timeoutMs + " ms with " + printed
              + " records printed; not read to their end: " + behind);
          return 3;
        }
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          long until = wanted.get(new TopicPartition(r.topic(), r.partition()))[1];
          if (r.offset() >= until) continue;
          line.setLength(0);
          line.append("record ").append(r.partition()).append(' ').append(r.offset()).append(' ')
              .append(r.key() == null ? "-" : hex(r.key())).append(' ').append(hex(r.value()));
          for (Header h : r.headers()) {
            line.append(' ').append(hex(h.key().getBytes(StandardCharsets.UTF_8))).append('=')
                .append(h.value() == null ? "" : hex(h.value()));
          }
          System.out.println(line);
          ++printed;
        }
      }
    }
    System.out.flush();
    return 0;
  }

  static String hex(byte[] bytes) {
    StringBuilder out = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) out.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    return out.toString();
  }

  static byte[] unhex(String text) {
    if (text.length() % 2 != 0) throw new IllegalArgumentException("odd-length hex: " + text);
    byte[] bytes = new byte[text.length() / 2];
    for (int i = 0; i < bytes.length; ++i) {
      bytes[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
    }
    return bytes;
  }
}

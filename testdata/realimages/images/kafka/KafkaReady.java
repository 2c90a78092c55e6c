// `cub kafka-ready`: waits until a Kafka cluster lists at least N brokers, or gives up after
// TIMEOUT seconds. Exit 0 when enough brokers answered, 1 otherwise. Written for the dataeco
// test images; it takes the arguments of Confluent's cub:
//   KafkaReady [-b BOOTSTRAP | --bootstrap-servers BOOTSTRAP] [-c CONFIG_FILE]
//              [-s SECURITY_PROTOCOL] MIN_BROKERS TIMEOUT_SECONDS
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Node;

public final class KafkaReady {
    private static void usage(String why) {
        System.err.println("cub kafka-ready: " + why);
        System.err.println("usage: cub kafka-ready -b HOST:PORT[,...] [-c CONFIG] [-s PROTOCOL] MIN_BROKERS TIMEOUT_SECONDS");
        System.exit(2);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = null, config = null, protocol = null;
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-b") || a.equals("--bootstrap-servers") || a.equals("--bootstrap_broker_list")) {
                if (++i == args.length) usage(a + " needs a value");
                bootstrap = args[i];
            } else if (a.equals("-c") || a.equals("--config")) {
                if (++i == args.length) usage(a + " needs a value");
                config = args[i];
            } else if (a.equals("-s") || a.equals("--security-protocol")) {
                if (++i == args.length) usage(a + " needs a value");
                protocol = args[i];
            } else if (a.equals("-z") || a.equals("--zookeeper_connect")) {
                usage("this image finds brokers through -b only");
            } else {
                rest.add(a);
            }
        }
        if (bootstrap == null) usage("-b is required");
        if (rest.size() != 2) usage("want MIN_BROKERS and TIMEOUT_SECONDS");
        int want = Integer.parseInt(rest.get(0));
        long timeoutMs = (long) (Double.parseDouble(rest.get(1)) * 1000);

        Properties props = new Properties();
        if (config != null) {
            try (InputStream in = new FileInputStream(config)) {
                props.load(in);
            }
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        if (protocol != null) props.put(AdminClientConfig.SECURITY_PROTOCOL_CONFIG, protocol);
        props.putIfAbsent(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "500");
        props.putIfAbsent(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");

        long deadline = System.currentTimeMillis() + timeoutMs;
        int found = 0;
        Collection<Node> nodes = List.of();
        String lastError = "no answer";
        try (Admin admin = Admin.create(props)) {
            while (true) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) break;
                try {
                    int t = (int) Math.max(1000, Math.min(left, Integer.MAX_VALUE));
                    nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs(t))
                            .nodes().get(t + 1000L, TimeUnit.MILLISECONDS);
                    found = nodes.size();
                    if (found >= want) {
                        System.out.println("cub kafka-ready: found " + found + " broker(s): " + nodes);
                        System.exit(0);
                    }
                    lastError = "only " + found + " broker(s): " + nodes;
                } catch (Exception e) {
                    Throwable c = e.getCause() != null ? e.getCause() : e;
                    lastError = c.getClass().getSimpleName() + ": " + c.getMessage();
                }
                Thread.sleep(Math.min(1000, Math.max(0, deadline - System.currentTimeMillis())));
            }
        } catch (Exception e) {
            lastError = e.toString();
        }
        System.err.println("cub kafka-ready: expected " + want + " broker(s) at " + bootstrap + " within "
                + rest.get(1) + " s, found " + found + " (" + lastError + ")");
        System.exit(1);
    }
}

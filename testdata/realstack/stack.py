"""Start, stop and inspect the real servers the pipeline tests run against.

    stack.py start    Kafka (KRaft, one node) and Cassandra 5.0 with PasswordAuthenticator,
                      on free 127.0.0.1 ports; writes run/env for the tests
    stack.py stop     stops what start launched (by the PIDs it recorded)
    stack.py status   which servers run, and the env file

The jars come from setup.sh ($REALSTACK_CACHE/kafka-lib and cassandra-lib). Everything a run leaves
behind (configs, data, logs, PIDs) is under run/, which stop keeps for post-mortems and the
next start wipes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("REALSTACK_CACHE", Path.home() / ".cache" / "dataeco-realstack"))
RUN = HERE / "run"
ENV_FILE = RUN / "env"

KAFKA_HEAP = os.environ.get("REALSTACK_KAFKA_HEAP", "512m")
CASSANDRA_HEAP = os.environ.get("REALSTACK_CASSANDRA_HEAP", "1g")

# Cassandra 5.0 on Java 17 reaches into JDK internals; these are the exports and opens its own
# jvm17-server.options grants.
CASSANDRA_JDK17_FLAGS = [
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports", "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports", "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports", "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/java.math=ALL-UNNAMED",
    "--add-opens", "java.base/java.net=ALL-UNNAMED",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def log(msg: str) -> None:
    print(f"realstack: {msg}", file=sys.stderr, flush=True)


def classpath(name: str) -> str:
    lib = CACHE / f"{name}-lib"
    if not any(lib.glob("*.jar")):
        sys.exit(f"realstack: {lib} is empty: run setup.sh first")
    return f"{lib}/*"


def launch(name: str, argv: list[str]) -> subprocess.Popen:
    out = open(RUN / f"{name}.out", "wb")
    # A session of its own, so stop can end the server without touching anything else.
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=RUN)
    (RUN / f"{name}.pid").write_text(str(proc.pid))
    return proc


def wait_for(what: str, check, proc: subprocess.Popen, timeout: float, logfile: Path):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = logfile.read_text(errors="replace")[-3000:]
            sys.exit(f"realstack: {what} exited with {proc.returncode}; end of {logfile}:\n{tail}")
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # the server is still coming up; keep the last reason
            last_error = e
        time.sleep(1)
    sys.exit(f"realstack: {what} not ready after {timeout:.0f}s (last error: {last_error}); "
             f"see {logfile}")


# --- Kafka --------------------------------------------------------------------------------

def start_kafka() -> dict:
    home = RUN / "kafka"
    home.mkdir()
    port, controller = free_port(), free_port()
    (home / "server.properties").write_text(f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={home / "data"}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# Like the stack, topics exist because an init created them, not because someone wrote.
auto.create.topics.enable=false
""")
    (home / "log4j.properties").write_text(f"""\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={RUN / "kafka.log"}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
""")
    cp = classpath("kafka")
    java = ["java", f"-Xms{KAFKA_HEAP}", f"-Xmx{KAFKA_HEAP}",
            f"-Dlog4j.configuration=file:{home / 'log4j.properties'}", "-cp", cp]
    subprocess.run(java + ["kafka.tools.StorageTool", "format", "-t", str(uuid.uuid4()),
                           "-c", str(home / "server.properties")],
                   check=True, stdout=subprocess.DEVNULL, cwd=RUN)
    started = time.monotonic()
    proc = launch("kafka", java + ["kafka.Kafka", str(home / "server.properties")])
    bootstrap = f"127.0.0.1:{port}"

    def ready():
        # librdkafka logs every refused connection; ask only once the port listens.
        if not port_open(port):
            return False
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": bootstrap})
        return admin.list_topics(timeout=2).brokers

    wait_for("Kafka", ready, proc, 120, RUN / "kafka.out")
    log(f"Kafka 3.9 on {bootstrap} after {time.monotonic() - started:.1f}s")
    return {"REALSTACK_KAFKA_BOOTSTRAP": bootstrap}


# --- Cassandra ----------------------------------------------------------------------------

def start_cassandra() -> dict:
    home = RUN / "cassandra"
    home.mkdir()
    native, storage = free_port(), free_port()
    (home / "cassandra.yaml").write_text(f"""\
cluster_name: realstack
num_tokens: 16
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:{storage}"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: {storage}
native_transport_port: {native}
start_native_transport: true
commitlog_sync: periodic
commitlog_sync_period: 10000ms
data_file_directories:
  - {home / "data"}
commitlog_directory: {home / "commitlog"}
saved_caches_directory: {home / "saved_caches"}
hints_directory: {home / "hints"}
cdc_raw_directory: {home / "cdc_raw"}
# What the compose file's cassandra service runs with: logins required, as in production.
authenticator:
  class_name: org.apache.cassandra.auth.PasswordAuthenticator
authorizer:
  class_name: org.apache.cassandra.auth.CassandraAuthorizer
role_manager:
  class_name: org.apache.cassandra.auth.CassandraRoleManager
""")
    (home / "logback.xml").write_text(f"""\
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>{RUN / "cassandra.log"}</file>
    <encoder><pattern>%-5level [%thread] %date{{ISO8601}} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
""")
    jamm = next((CACHE / "cassandra-lib").glob("jamm-*.jar"), None)
    argv = ["java", f"-Xms{CASSANDRA_HEAP}", f"-Xmx{CASSANDRA_HEAP}", "-Xss512k",
            "-XX:+UseG1GC", *CASSANDRA_JDK17_FLAGS,
            f"-Dcassandra.config=file://{home / 'cassandra.yaml'}",
            f"-Dlogback.configurationFile={home / 'logback.xml'}",
            f"-Dcassandra.storagedir={home}",
            "-Dcassandra-foreground=yes",
            # One fresh node: nothing to gossip with, no reason to wait for it.
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.superuser_setup_delay_ms=0",
            "-Dcassandra.ring_delay_ms=0",
            "-cp", classpath("cassandra")]
    if jamm:
        argv.insert(1, f"-javaagent:{jamm}")
    argv.append("org.apache.cassandra.service.CassandraDaemon")
    started = time.monotonic()
    proc = launch("cassandra", argv)

    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    def session(user, password):
        cluster = Cluster(["127.0.0.1"], port=native, connect_timeout=5,
                          auth_provider=PlainTextAuthProvider(user, password))
        return cluster, cluster.connect()

    def default_login():
        cluster, s = session("cassandra", "cassandra")
        s.execute("SELECT release_version FROM system.local")
        cluster.shutdown()
        return True

    wait_for("Cassandra", default_login, proc, 240, RUN / "cassandra.log")
    log(f"Cassandra 5.0 on 127.0.0.1:{native} after {time.monotonic() - started:.1f}s")

    # The same swap the stack's cassandra-init does: a generated superuser in, cassandra out.
    user, password = "dataeco", secrets.token_urlsafe(18)
    cluster, s = session("cassandra", "cassandra")
    s.execute(f"CREATE ROLE IF NOT EXISTS {user} WITH PASSWORD = %s "
              "AND SUPERUSER = true AND LOGIN = true", (password,))
    cluster.shutdown()
    cluster, s = session(user, password)
    s.execute("ALTER ROLE cassandra WITH PASSWORD = %s AND SUPERUSER = false AND LOGIN = false",
              (secrets.token_urlsafe(18),))
    cluster.shutdown()
    log(f"Cassandra superuser {user} created, cassandra disabled")
    return {"REALSTACK_CASSANDRA_HOST": "127.0.0.1", "REALSTACK_CASSANDRA_PORT": str(native),
            "REALSTACK_CASSANDRA_USER": user, "REALSTACK_CASSANDRA_PASSWORD": password}


# --- commands -----------------------------------------------------------------------------

def pids() -> dict[str, int]:
    found = {}
    for f in RUN.glob("*.pid"):
        try:
            found[f.stem] = int(f.read_text())
        except ValueError:
            pass
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def stop() -> None:
    # Gone first: an env file naming stopped servers would send tests into timeouts.
    ENV_FILE.unlink(missing_ok=True)
    for name, pid in pids().items():
        if alive(pid):
            log(f"stopping {name} (pid {pid})")
            os.killpg(pid, signal.SIGTERM)
            for _ in range(30):
                if not alive(pid):
                    break
                time.sleep(1)
            else:
                os.killpg(pid, signal.SIGKILL)
        (RUN / f"{name}.pid").unlink(missing_ok=True)


def start() -> None:
    if any(alive(p) for p in pids().values()):
        sys.exit("realstack: already running; stack.py stop first")
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    env = {}
    try:
        env.update(start_kafka())
        env.update(start_cassandra())
    except BaseException:
        stop()
        raise
    ENV_FILE.write_text("".join(f"export {k}='{v}'\n" for k, v in env.items()))
    log(f"ready; environment in {ENV_FILE}")


def status() -> int:
    running = {n: p for n, p in pids().items() if alive(p)}
    for name, pid in sorted(pids().items()):
        print(f"{name}: {'running' if name in running else 'dead'} (pid {pid})")
    if ENV_FILE.exists():
        print(ENV_FILE.read_text(), end="")
    return 0 if running and len(running) == len(pids()) else 1


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "start":
        start()
    elif command == "stop":
        stop()
    elif command == "status":
        return status()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Start, stop and inspect the real servers the pipeline tests run against.

    stack.py start    the stack on free 127.0.0.1 ports, as the compose file wires it: Kafka
                      (KRaft, one node) with the users_created topic, Cassandra 5.0 with
                      PasswordAuthenticator and the pipeline's schema, a Spark standalone
                      master and worker running the pipeline's streaming job, and Airflow 3
                      (api-server, scheduler, dag-processor; FAB logins) on PostgreSQL with
                      the pipeline's DAG; writes run/env for the tests
    stack.py stop     stops what start launched (by the PIDs it recorded)
    stack.py status   which servers run, and the env file

The jars come from setup.sh ($REALSTACK_CACHE/kafka-lib and cassandra-lib). Everything a run leaves
behind (configs, data, logs, PIDs) is under run/, which stop keeps for post-mortems and the
next start wipes.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PIPELINE = REPO / "embedded" / "pipeline"
CACHE = Path(os.environ.get("REALSTACK_CACHE", Path.home() / ".cache" / "dataeco-realstack"))
RUN = HERE / "run"
ENV_FILE = RUN / "env"

KAFKA_HEAP = os.environ.get("REALSTACK_KAFKA_HEAP", "512m")
SPARK_WORKER_CORES, SPARK_WORKER_MEMORY_MIB = 2, 1024
SPARK_APP = "dataeco-stream-users"
TOPIC, KEYSPACE, TABLE = "users_created", "spark_streams", "created_users"
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


_handed_out: set[int] = set()


def free_port() -> int:
    """A free port just below the kernel's range for outgoing connections' local ports.

    bind(0) would pick one inside that range, and between choosing the port and the server
    binding it (seconds, for a JVM) any client connection on the machine may take it. The Go
    end-to-end tests publish ports between 10000 and 29999 and above the range, so these stay
    clear of them too.
    """
    lo = 32768
    try:
        lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    candidates = list(range(max(1024, lo - 2700), lo))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
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


def launch(name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
    out = open(RUN / f"{name}.out", "wb")
    # A session of its own, so stop can end the server without touching anything else.
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=RUN, env=env)
    (RUN / f"{name}.pid").write_text(str(proc.pid))
    # stop ends servers in the reverse order: Airflow before its database, the job before Spark.
    with open(RUN / "order", "a") as f:
        f.write(name + "\n")
    return proc


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def http_json(url: str, data: dict | None = None, token: str | None = None, method: str | None = None):
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    # Straight to 127.0.0.1, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


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

    # What the stack's kafka-init does: the topic exists before anything produces or reads.
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])[TOPIC].result(30)
    log(f"topic {TOPIC} created")
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
    # And the schema, from the same file cassandra-init applies.
    for statement in cql_statements(PIPELINE / "cql" / "schema.cql"):
        s.execute(statement)
    cluster.shutdown()
    log(f"Cassandra superuser {user} created, cassandra disabled, {KEYSPACE}.{TABLE} created")
    return {"REALSTACK_CASSANDRA_HOST": "127.0.0.1", "REALSTACK_CASSANDRA_PORT": str(native),
            "REALSTACK_CASSANDRA_USER": user, "REALSTACK_CASSANDRA_PASSWORD": password}


def cql_statements(path: Path) -> list[str]:
    """Statements of a CQL file, the way cqlsh -f splits them (comments dropped)."""
    text = "\n".join(line for line in path.read_text().splitlines()
                     if not line.strip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


# --- Spark --------------------------------------------------------------------------------

def start_spark(env: dict) -> dict:
    """A standalone master and worker (pyspark's spark-class, as the images run them), and the
    pipeline's streaming job submitted to them the way the spark-stream service does."""
    import pyspark
    home = RUN / "spark"
    home.mkdir()
    spark_home = os.path.dirname(pyspark.__file__)
    rpc, ui, worker_ui = free_port(), free_port(), free_port()
    master = f"spark://127.0.0.1:{rpc}"
    spark_env = dict(os.environ, SPARK_HOME=spark_home, SPARK_LOCAL_IP="127.0.0.1",
                     PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
                     SPARK_WORKER_DIR=str(home / "work"), SPARK_LOG_DIR=str(home / "logs"))
    spark_class = os.path.join(spark_home, "bin", "spark-class")
    started = time.monotonic()
    proc = launch("spark-master", [spark_class, "org.apache.spark.deploy.master.Master",
                                   "--host", "127.0.0.1", "--port", str(rpc), "--webui-port", str(ui)],
                  spark_env)
    url = f"http://127.0.0.1:{ui}"
    wait_for("the Spark master", lambda: http_json(f"{url}/json/")["status"] == "ALIVE", proc, 120,
             RUN / "spark-master.out")
    proc = launch("spark-worker", [spark_class, "org.apache.spark.deploy.worker.Worker",
                                   "--cores", str(SPARK_WORKER_CORES), "--memory", f"{SPARK_WORKER_MEMORY_MIB}m",
                                   "--webui-port", str(worker_ui), master], spark_env)
    wait_for("the Spark worker", lambda: any(w["state"] == "ALIVE" for w in http_json(f"{url}/json/")["workers"]),
             proc, 120, RUN / "spark-worker.out")

    packages = ",".join(line.strip() for line in (HERE / "spark-packages.txt").read_text().splitlines()
                        if line.strip() and not line.startswith("#"))
    job_env = dict(spark_env, KAFKA_BOOTSTRAP=env["REALSTACK_KAFKA_BOOTSTRAP"], KAFKA_TOPIC=TOPIC,
                   CASSANDRA_HOST=env["REALSTACK_CASSANDRA_HOST"], CASSANDRA_PORT=env["REALSTACK_CASSANDRA_PORT"],
                   CASSANDRA_USER=env["REALSTACK_CASSANDRA_USER"],
                   CASSANDRA_PASSWORD=env["REALSTACK_CASSANDRA_PASSWORD"],
                   CHECKPOINT_DIR=str(home / "checkpoints" / TABLE))
    proc = launch("spark-stream", [venv_bin("spark-submit"), "--master", master, "--name", SPARK_APP,
                                   "--packages", packages,
                                   "--conf", f"spark.jars.ivy={CACHE / 'ivy'}",
                                   "--conf", f"spark.jars.ivySettings={HERE / 'ivysettings.xml'}",
                                   "--driver-memory", "512m", "--conf", "spark.executor.memory=512m",
                                   "--conf", "spark.cores.max=1", "--conf", "spark.ui.enabled=false",
                                   str(PIPELINE / "spark" / "stream_users.py")], job_env)
    wait_for("the streaming job", lambda: any(a["name"] == SPARK_APP for a in http_json(f"{url}/json/")["activeapps"]),
             proc, 240, RUN / "spark-stream.out")
    log(f"Spark master {master} (UI {url}), one worker, {SPARK_APP} running after "
        f"{time.monotonic() - started:.1f}s")
    return {"REALSTACK_SPARK_MASTER": master, "REALSTACK_SPARK_UI": url, "REALSTACK_SPARK_APP": SPARK_APP,
            "REALSTACK_SPARK_WORKER_CORES": str(SPARK_WORKER_CORES),
            "REALSTACK_SPARK_WORKER_MEMORY_MIB": str(SPARK_WORKER_MEMORY_MIB)}


# --- PostgreSQL and Airflow ---------------------------------------------------------------

def postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not found:
        sys.exit("realstack: no PostgreSQL server (apt-get install postgresql)")
    return str(found[-1])


def start_postgres() -> dict:
    """A throwaway cluster for Airflow's metadata. PostgreSQL refuses to run as root, so as
    root it runs as the postgres user, with its files where that user can reach them."""
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]
    base = Path(tempfile.mkdtemp(prefix="realstack-pg-"))
    (RUN / "postgres.dir").write_text(str(base))
    superpass = secrets.token_urlsafe(18)
    (base / "pw").write_text(superpass)
    if as_user:
        entry = pwd.getpwnam("postgres")
        for p in (base, base / "pw"):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    subprocess.run(as_user + [postgres_bin("initdb"), "-D", str(base / "data"), "-U", "postgres",
                              "-A", "scram-sha-256", f"--pwfile={base / 'pw'}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    port = free_port()
    started = time.monotonic()
    proc = launch("postgres", as_user + [postgres_bin("postgres"), "-D", str(base / "data"), "-p", str(port),
                                         "-k", str(base), "-c", "listen_addresses=127.0.0.1"])
    import psycopg2

    def connect(user, password, db="postgres"):
        return psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname=db,
                                connect_timeout=3)

    wait_for("PostgreSQL", lambda: connect("postgres", superpass).close() or True, proc, 60,
             RUN / "postgres.out")
    password = secrets.token_urlsafe(18)
    conn = connect("postgres", superpass)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE ROLE airflow LOGIN PASSWORD %s", (password,))
        cur.execute("CREATE DATABASE airflow OWNER airflow")
    conn.close()
    log(f"PostgreSQL on 127.0.0.1:{port} after {time.monotonic() - started:.1f}s")
    return {"REALSTACK_POSTGRES_URL": f"postgresql+psycopg2://airflow:{password}@127.0.0.1:{port}/airflow"}


def start_airflow(env: dict) -> dict:
    """Airflow as the compose file runs it: LocalExecutor on PostgreSQL, FAB logins with a
    generated admin password, api-server + scheduler + dag-processor, the DAG folder as the
    installer lays it out. DAGs start paused here (the stack runs them at once), so the
    tests decide when records are produced."""
    home = RUN / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    for f in (PIPELINE / "dags").glob("*.py"):
        shutil.copy(f, dags / f.name)
    api, health = free_port(), free_port()
    url = f"http://127.0.0.1:{api}"
    af_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DATAECO_"))}
    af_env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(24),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(24),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": env["REALSTACK_POSTGRES_URL"],
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health),
        "DATAECO_KAFKA_BOOTSTRAP": env["REALSTACK_KAFKA_BOOTSTRAP"],
        "DATAECO_USERS_TOPIC": TOPIC,
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    airflow = venv_bin("airflow")
    started = time.monotonic()
    # What airflow-init does through the image's entrypoint: migrate, then create the admin.
    user, password = "admin", secrets.token_urlsafe(18)
    for argv in ([airflow, "db", "migrate"],
                 [airflow, "users", "create", "--role", "Admin", "--username", user, "--password=" + password,
                  "--email", "admin@example.invalid", "--firstname", "Data", "--lastname", "Eco"]):
        done = subprocess.run(argv, env=af_env, cwd=RUN, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            sys.exit(f"realstack: {' '.join(argv[:3])} failed:\n{done.stdout.decode(errors='replace')[-3000:]}")
    procs = {name: launch(f"airflow-{name}", [airflow, name], af_env)
             for name in ("api-server", "scheduler", "dag-processor")}

    def healthy():
        h = http_json(f"{url}/api/v2/monitor/health")
        return all((h.get(c) or {}).get("status") == "healthy" for c in ("metadatabase", "scheduler", "dag_processor"))

    wait_for("Airflow", healthy, procs["api-server"], 180, RUN / "airflow-api-server.out")

    def dag_registered():
        token = http_json(f"{url}/auth/token", {"username": user, "password": password})["access_token"]
        return http_json(f"{url}/api/v2/dags/user_automation", token=token)["dag_id"]

    wait_for("the user_automation DAG", dag_registered, procs["dag-processor"], 180,
             RUN / "airflow-dag-processor.out")
    log(f"Airflow 3.3 on {url} with user_automation after {time.monotonic() - started:.1f}s")
    return {"REALSTACK_AIRFLOW_URL": url, "REALSTACK_AIRFLOW_USER": user, "REALSTACK_AIRFLOW_PASSWORD": password}


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
    order = (RUN / "order").read_text().split() if (RUN / "order").exists() else []
    running = pids()
    for name in reversed(order):
        pid = running.get(name)
        if pid is None:
            continue
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
    pg = RUN / "postgres.dir"
    if pg.exists():
        shutil.rmtree(pg.read_text().strip(), ignore_errors=True)
        pg.unlink()


def start() -> None:
    if any(alive(p) for p in pids().values()):
        sys.exit("realstack: already running; stack.py stop first")
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    env = {}
    try:
        env.update(start_kafka())
        env.update(start_cassandra())
        env.update(start_spark(env))
        env.update(start_postgres())
        env.update(start_airflow(env))
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

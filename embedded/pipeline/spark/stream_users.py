"""Carry user records from Kafka into Cassandra: the second stage of the dataeco pipeline.

Reads the JSON records that the ``user_automation`` DAG produces, parses them with an explicit
schema (the table's columns, read at start) and upserts them into ``spark_streams.created_users``
(created by cql/schema.cql).

Submitted by the compose file's spark-stream service, from inside the compose network:

    /opt/spark/bin/spark-submit --master spark://spark-master:7077 /opt/dataeco/spark/stream_users.py

It needs the Kafka and Cassandra connectors on the classpath: the Spark image dataeco builds
has ``spark-sql-kafka-0-10_2.12:3.5.7`` and ``spark-cassandra-connector_2.12:3.5.1`` in
/opt/spark/jars (elsewhere, pass them with ``--packages``). They are Scala 2.12 builds, as the
apache/spark:3.5.8-scala2.12 image needs (a 2.13 build fails with NoClassDefFoundError:
scala/$less$colon$less). Any 3.5.x Kafka connector runs on Spark 3.5.8; 3.5.7 is the newest the
package mirror of dataeco's tests serves.

Environment:

    KAFKA_BOOTSTRAP       default broker:29092
    KAFKA_TOPIC           default users_created
    STARTING_OFFSETS      default earliest; only used when the checkpoint is new
    CASSANDRA_HOST        default cassandra
    CASSANDRA_PORT        default 9042
    CASSANDRA_USER        required
    CASSANDRA_PASSWORD    required
    CASSANDRA_KEYSPACE    default spark_streams
    CASSANDRA_TABLE       default created_users
    CHECKPOINT_DIR        default /checkpoints/created_users (a named volume in compose)
    STREAM_TRIGGER        default "1 second": a micro-batch interval, or "availableNow" to
                          process what is on the topic and stop

Delivery: Kafka offsets are committed to the checkpoint only after a batch is written, so a
restart resumes where the last finished batch ended; a batch cut short is written again, and
since ``id`` is the table's primary key the rewrite is an upsert, not a duplicate. Records that
are not JSON or carry no valid UUID in ``id`` are dropped (and counted in the log) rather than
failing every retry of the same batch forever.
"""

from __future__ import annotations

import os
import sys
import threading

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.types import StringType, StructField, StructType

def user_schema(columns: list[str]) -> StructType:
    """Every field is a string on the wire; Cassandra's connector turns the id string into a uuid."""
    return StructType([StructField("id", StringType(), nullable=False)] +
                      [StructField(name, StringType(), nullable=True) for name in columns])


def table_columns(spark: SparkSession, keyspace: str, table: str) -> list[str]:
    """The table's columns besides id. The table (cql/schema.cql) is the one list of a user's
    fields: the job reads those from each record and writes them, whatever they are."""
    schema = (spark.read.format("org.apache.spark.sql.cassandra")
              .options(keyspace=keyspace, table=table).load().schema)
    return [field.name for field in schema.fields if field.name != "id"]


UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        sys.exit(f"stream_users: {name} must be set")
    return default


def parse_users(raw: DataFrame, columns: list[str], observation: str | None = None) -> DataFrame:
    """Kafka rows → one row per valid user, with the table's columns. With an observation name,
    each batch's job also counts the rows read ("total") and the valid ones ("valid") on the
    way, without a job of its own; the counts come back in the query's progress."""
    parsed = raw.select(F.from_json(F.col("value").cast("string"), user_schema(columns)).alias("u"))
    valid = F.col("u.id").isNotNull() & F.col("u.id").rlike(UUID_PATTERN)
    if observation is not None:
        parsed = parsed.observe(observation, F.count(F.lit(1)).alias("total"),
                                F.count(F.when(valid, True)).alias("valid"))
    return (parsed
            .where(valid)
            .select(F.lower(F.col("u.id")).alias("id"),
                    *[F.col(f"u.{name}").alias(name) for name in columns]))


OBSERVATION = "batch"


class BatchLog(StreamingQueryListener):
    """One log line per micro-batch, from the query's progress: the rows read and the valid
    ones, as the batch's own job counted them. Progress events arrive on the listener's thread
    after the batch; a job that stops (availableNow) reports what it had not yet printed from
    the query's recent progress."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.printed: set[int] = set()

    def report(self, batch_id: int, metrics) -> None:
        if metrics is None:
            return
        with self.lock:
            if batch_id in self.printed:
                return
            self.printed.add(batch_id)
        total, valid = int(metrics["total"]), int(metrics["valid"])
        dropped = f", dropped {total - valid} malformed" if total != valid else ""
        print(f"stream_users: batch {batch_id}: wrote {valid} users{dropped}", flush=True)

    def report_progress(self, progress: dict) -> None:
        self.report(progress["batchId"], progress.get("observedMetrics", {}).get(OBSERVATION))

    def onQueryStarted(self, event) -> None:
        pass

    def onQueryProgress(self, event) -> None:
        self.report(event.progress.batchId, event.progress.observedMetrics.get(OBSERVATION))

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        pass


def main() -> None:
    bootstrap = setting("KAFKA_BOOTSTRAP", "broker:29092")
    topic = setting("KAFKA_TOPIC", "users_created")
    keyspace = setting("CASSANDRA_KEYSPACE", "spark_streams")
    table = setting("CASSANDRA_TABLE", "created_users")
    checkpoint = setting("CHECKPOINT_DIR", "/checkpoints/created_users")
    trigger = setting("STREAM_TRIGGER", "1 second")

    spark = (SparkSession.builder
             .appName("dataeco-stream-users")
             .config("spark.cassandra.connection.host", setting("CASSANDRA_HOST", "cassandra"))
             .config("spark.cassandra.connection.port", setting("CASSANDRA_PORT", "9042"))
             .config("spark.cassandra.auth.username", setting("CASSANDRA_USER"))
             .config("spark.cassandra.auth.password", setting("CASSANDRA_PASSWORD"))
             .config("spark.sql.shuffle.partitions", "2")
             # The connector closes an idle Cassandra session after 5 s, so the first record
             # after a pause paid for a new one; records come in bursts, so keep it.
             .config("spark.cassandra.connection.keepAliveMS", "600000")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    columns = table_columns(spark, keyspace, table)

    raw = (spark.readStream
           .format("kafka")
           .option("kafka.bootstrap.servers", bootstrap)
           .option("subscribe", topic)
           .option("startingOffsets", setting("STARTING_OFFSETS", "earliest"))
           # A topic recreated or trimmed under us should not stop the pipeline for good.
           .option("failOnDataLoss", "false")
           .load())

    # Written by the Cassandra connector's own streaming sink: each batch is one Spark job
    # planned in the JVM, with nothing of the batch going through Python (a foreachBatch
    # callback cost 0.1-0.4 s of every batch on a small machine; docs/performance.md).
    log = BatchLog()
    spark.streams.addListener(log)
    writer = (parse_users(raw, columns, OBSERVATION).writeStream
              .queryName("users_to_cassandra")
              .format("org.apache.spark.sql.cassandra")
              .option("keyspace", keyspace)
              .option("table", table)
              .option("checkpointLocation", checkpoint)
              .outputMode("append"))
    if trigger == "availableNow":
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=trigger)

    print(f"stream_users: {bootstrap}/{topic} -> {keyspace}.{table}, checkpoint {checkpoint}",
          flush=True)
    query = writer.start()
    try:
        query.awaitTermination()
    finally:
        for progress in query.recentProgress:
            log.report_progress(progress)


if __name__ == "__main__":
    main()

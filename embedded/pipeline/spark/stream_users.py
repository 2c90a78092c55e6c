"""Carry user records from Kafka into Cassandra: the second stage of the dataeco pipeline.

Reads the JSON records that the ``user_automation`` DAG produces, parses them with an explicit
schema and upserts them into ``spark_streams.created_users`` (created by cql/schema.cql).

Submitted by the compose file's spark-stream service, from inside the compose network:

    /opt/spark/bin/spark-submit \
      --master spark://spark-master:7077 \
      --packages org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.7,com.datastax.spark:spark-cassandra-connector_2.12:3.5.1 \
      --conf spark.jars.ivy=/ivy \
      /opt/dataeco/spark/stream_users.py

The connectors are Scala 2.12 builds, as the apache/spark:3.5.8-scala2.12 image needs (a 2.13
build fails with NoClassDefFoundError: scala/$less$colon$less). The Kafka connector is 3.5.7
because Maven Central has no Scala 2.12 build of spark-sql-kafka-0-10 3.5.8; within the 3.5
line it works with Spark 3.5.8. ``spark.jars.ivy`` must point somewhere writable: the image's
user has no home directory, and a volume there keeps the jars across restarts.

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
    STREAM_TRIGGER        default "5 seconds": a micro-batch interval, or "availableNow" to
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

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

TEXT_COLUMNS = (
    "first_name",
    "last_name",
    "gender",
    "address",
    "post_code",
    "email",
    "username",
    "dob",
    "registered_date",
    "phone",
    "picture",
)

# Every field is a string on the wire; Cassandra's connector turns the id string into a uuid.
USER_SCHEMA = StructType([StructField("id", StringType(), nullable=False)] +
                         [StructField(name, StringType(), nullable=True) for name in TEXT_COLUMNS])

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        sys.exit(f"stream_users: {name} must be set")
    return default


def parse_users(raw: DataFrame) -> DataFrame:
    """Kafka rows → one row per valid user, columns in the table's order."""
    parsed = raw.select(F.from_json(F.col("value").cast("string"), USER_SCHEMA).alias("u"))
    return (parsed
            .where(F.col("u.id").isNotNull() & F.col("u.id").rlike(UUID_PATTERN))
            .select(F.lower(F.col("u.id")).alias("id"),
                    *[F.col(f"u.{name}").alias(name) for name in TEXT_COLUMNS]))


def main() -> None:
    bootstrap = setting("KAFKA_BOOTSTRAP", "broker:29092")
    topic = setting("KAFKA_TOPIC", "users_created")
    keyspace = setting("CASSANDRA_KEYSPACE", "spark_streams")
    table = setting("CASSANDRA_TABLE", "created_users")
    checkpoint = setting("CHECKPOINT_DIR", "/checkpoints/created_users")
    trigger = setting("STREAM_TRIGGER", "5 seconds")

    spark = (SparkSession.builder
             .appName("dataeco-stream-users")
             .config("spark.cassandra.connection.host", setting("CASSANDRA_HOST", "cassandra"))
             .config("spark.cassandra.connection.port", setting("CASSANDRA_PORT", "9042"))
             .config("spark.cassandra.auth.username", setting("CASSANDRA_USER"))
             .config("spark.cassandra.auth.password", setting("CASSANDRA_PASSWORD"))
             .config("spark.sql.shuffle.partitions", "2")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")

    raw = (spark.readStream
           .format("kafka")
           .option("kafka.bootstrap.servers", bootstrap)
           .option("subscribe", topic)
           .option("startingOffsets", setting("STARTING_OFFSETS", "earliest"))
           # A topic recreated or trimmed under us should not stop the pipeline for good.
           .option("failOnDataLoss", "false")
           .load())

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            users = parse_users(batch)
            total, valid = batch.count(), users.count()
            if valid:
                (users.write
                 .format("org.apache.spark.sql.cassandra")
                 .options(keyspace=keyspace, table=table)
                 .mode("append")
                 .save())
            dropped = f", dropped {total - valid} malformed" if total != valid else ""
            print(f"stream_users: batch {batch_id}: wrote {valid} users{dropped}", flush=True)
        finally:
            batch.unpersist()

    writer = (raw.writeStream
              .queryName("users_to_cassandra")
              .option("checkpointLocation", checkpoint)
              .foreachBatch(write_batch))
    if trigger == "availableNow":
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=trigger)

    print(f"stream_users: {bootstrap}/{topic} -> {keyspace}.{table}, checkpoint {checkpoint}",
          flush=True)
    writer.start().awaitTermination()


if __name__ == "__main__":
    main()

"""The DAG's producer against a real Kafka 3.9 broker, and its generator on its own."""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import datetime, timezone

import pytest

import dataeco_users

ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages = []
    try:
        import time
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            messages.append(msg)
        # Anything past the expected count would be a duplicate: give it a moment to show up.
        extra = consumer.poll(2.0)
        if extra is not None and extra.error() is None:
            messages.append(extra)
    finally:
        consumer.close()
    return messages


def assert_well_formed(record: dict) -> None:
    assert set(record) == set(dataeco_users.FIELDS)
    assert str(uuid.UUID(record["id"])) == record["id"]
    for field in dataeco_users.FIELDS:
        assert isinstance(record[field], str) and record[field], field
    assert record["gender"] in ("female", "male")
    assert "@" in record["email"]
    assert ISO_INSTANT.match(record["dob"]) and ISO_INSTANT.match(record["registered_date"])
    age_years = (datetime.now(timezone.utc) - datetime.fromisoformat(
        record["dob"].replace("Z", "+00:00"))).days / 365.25
    assert 17 < age_years < 100, record["dob"]
    assert record["picture"].startswith("https://")


def test_run_puts_well_formed_records_on_a_real_topic(bootstrap, new_topic, monkeypatch):
    monkeypatch.setenv("DATAECO_KAFKA_BOOTSTRAP", bootstrap)
    monkeypatch.setenv("DATAECO_USERS_TOPIC", new_topic)
    monkeypatch.setenv("DATAECO_USERS_PER_RUN", "7")
    monkeypatch.delenv("DATAECO_USERS_SOURCE", raising=False)

    assert dataeco_users.run() == 7

    messages = consume_all(bootstrap, new_topic, 7)
    assert len(messages) == 7
    ids = set()
    for msg in messages:
        record = json.loads(msg.value())
        assert_well_formed(record)
        assert msg.key().decode() == record["id"]
        ids.add(record["id"])
    assert len(ids) == 7


def test_produce_fails_loudly_when_kafka_is_unreachable(new_topic):
    # A port nothing listens on: the original DAG "succeeded" here with nothing sent.
    records = dataeco_users.make_records(2)
    with pytest.raises(dataeco_users.DeliveryError, match="0 of 2 records"):
        dataeco_users.produce(records, "127.0.0.1:9", new_topic, timeout=3)


def test_produce_fails_loudly_on_a_missing_topic(bootstrap):
    # The broker refuses to create topics on write, as the stack's does.
    records = dataeco_users.make_records(1)
    with pytest.raises(dataeco_users.DeliveryError):
        dataeco_users.produce(records, bootstrap, f"no_such_topic_{uuid.uuid4().hex[:6]}",
                              timeout=5)


def test_builtin_generator_is_repeatable_with_a_seed():
    first = dataeco_users.builtin_users(4, random.Random(7))
    again = dataeco_users.builtin_users(4, random.Random(7))
    strip = [{k: v for k, v in u.items() if k not in ("dob", "registered")} for u in first]
    assert strip == [{k: v for k, v in u.items() if k not in ("dob", "registered")}
                     for u in again]
    for record in map(dataeco_users.format_user, first):
        assert_well_formed(record)


def test_format_user_accepts_randomuser_shapes():
    # randomuser.me returns numeric postcodes for some countries; the column is text.
    raw = dataeco_users.builtin_users(1, random.Random(1))[0]
    raw["location"]["postcode"] = 12345
    record = dataeco_users.format_user(raw)
    assert record["post_code"] == "12345"
    assert json.loads(json.dumps(record)) == record


@pytest.mark.parametrize("name,value", [("DATAECO_USERS_PER_RUN", "0"),
                                        ("DATAECO_USERS_PER_RUN", "many"),
                                        ("DATAECO_USERS_SOURCE", "faker")])
def test_bad_settings_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(dataeco_users.ConfigError, match=name):
        dataeco_users.users_per_run() if "PER_RUN" in name else dataeco_users.source()


def test_defaults_match_the_stack(monkeypatch):
    for name in ("DATAECO_KAFKA_BOOTSTRAP", "DATAECO_USERS_TOPIC", "DATAECO_USERS_PER_RUN",
                 "DATAECO_USERS_SCHEDULE", "DATAECO_USERS_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    assert dataeco_users.bootstrap() == "broker:29092"
    assert dataeco_users.topic() == "users_created"
    assert dataeco_users.users_per_run() == 5
    assert dataeco_users.schedule() == "* * * * *"
    assert dataeco_users.source() == "builtin"


def test_randomuser_source_reads_the_api_shape(monkeypatch):
    # No internet here: a local server answers in randomuser.me's format, built from what the
    # generator makes (which mirrors that format), with a numeric postcode as the API sends.
    import http.server
    import threading

    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            count = int(self.path.rsplit("results=", 1)[1])
            results = dataeco_users.builtin_users(count, random.Random(3))
            results[0]["location"]["postcode"] = 90210
            body = json.dumps({"results": results, "info": {"results": count}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("DATAECO_RANDOMUSER_URL", f"http://127.0.0.1:{server.server_port}/api/")
        monkeypatch.setenv("DATAECO_USERS_SOURCE", "randomuser")
        records = dataeco_users.make_records(3, dataeco_users.source())
    finally:
        server.shutdown()
    assert asked == ["/api/?results=3"]
    assert len(records) == 3
    assert records[0]["post_code"] == "90210"
    for record in records:
        assert_well_formed(record)

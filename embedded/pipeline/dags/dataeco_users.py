"""User records for the dataeco pipeline: make them, shape them, send them to Kafka.

The DAG ``user_automation`` calls :func:`run`; the module itself has no Airflow import, so it
can be tested and used on its own (``python dataeco_users.py`` sends one batch).

Configuration, read from the environment each time a batch runs:

``DATAECO_KAFKA_BOOTSTRAP``
    Kafka bootstrap servers. Default ``broker:29092``, the broker's listener inside the
    compose network.
``DATAECO_KAFKA_TIMEOUT``
    Seconds a batch may take to be acknowledged before the task fails. Default ``30``.
``DATAECO_USERS_TOPIC``
    Topic to produce to. Default ``users_created``.
``DATAECO_USERS_PER_RUN``
    Records per DAG run. Default ``5``.
``DATAECO_USERS_SCHEDULE``
    The DAG's schedule (a cron expression or an Airflow preset such as ``@hourly``); read when
    the DAG file is parsed. Default ``* * * * *``, every minute.
``DATAECO_USERS_SOURCE``
    ``builtin`` (default) makes plausible users locally, so the stack works offline;
    ``randomuser`` fetches them from https://randomuser.me like the original tutorial did.
``DATAECO_USERS_SEED``
    An integer makes the built-in generator repeatable (tests, demos). Unset: fresh users on
    every run.
``DATAECO_RANDOMUSER_URL``
    Where the ``randomuser`` source asks. Default ``https://randomuser.me/api/``.

Every record is a JSON object whose ``id`` is a UUID in its string form (``json`` cannot encode
a ``uuid.UUID``: that was the original tutorial's silent failure), plus first_name, last_name,
gender, address, post_code, email, username, dob, registered_date, phone and picture, all
strings. The Spark job and the Cassandra table ``spark_streams.created_users`` expect exactly
these fields.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import random
import urllib.request
import uuid

DEFAULT_BOOTSTRAP = "broker:29092"
DEFAULT_TOPIC = "users_created"
DEFAULT_PER_RUN = 5
DEFAULT_SCHEDULE = "* * * * *"
DEFAULT_SOURCE = "builtin"
DEFAULT_RANDOMUSER_URL = "https://randomuser.me/api/"

FIELDS = (
    "id",
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


class ConfigError(ValueError):
    """A DATAECO_* variable holds a value the pipeline cannot use."""


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge every record of a batch."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def bootstrap() -> str:
    return _env("DATAECO_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP)


def topic() -> str:
    return _env("DATAECO_USERS_TOPIC", DEFAULT_TOPIC)


def schedule() -> str:
    return _env("DATAECO_USERS_SCHEDULE", DEFAULT_SCHEDULE)


def kafka_timeout() -> float:
    raw = _env("DATAECO_KAFKA_TIMEOUT", "30")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"DATAECO_KAFKA_TIMEOUT={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"DATAECO_KAFKA_TIMEOUT={raw!r} must be positive")
    return value


def users_per_run() -> int:
    raw = _env("DATAECO_USERS_PER_RUN", str(DEFAULT_PER_RUN))
    try:
        n = int(raw)
    except ValueError:
        raise ConfigError(f"DATAECO_USERS_PER_RUN={raw!r} is not a whole number") from None
    if n < 1 or n > 10_000:
        raise ConfigError(f"DATAECO_USERS_PER_RUN={n} is outside 1..10000")
    return n


def source() -> str:
    value = _env("DATAECO_USERS_SOURCE", DEFAULT_SOURCE).lower()
    if value not in ("builtin", "randomuser"):
        raise ConfigError(f"DATAECO_USERS_SOURCE={value!r}: use builtin or randomuser")
    return value


def seed() -> int | None:
    raw = os.environ.get("DATAECO_USERS_SEED", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"DATAECO_USERS_SEED={raw!r} is not an integer") from None


# --- the built-in generator ---------------------------------------------------------------
# Small tables are enough: the point is records that look like people, not realism.

_FIRST = {
    "female": ("Ana", "Beatriz", "Camila", "Daniela", "Elena", "Fernanda", "Grace", "Hana",
               "Isabel", "Julia", "Laura", "Maria", "Nadia", "Olivia", "Paula", "Sofia"),
    "male": ("Andre", "Bruno", "Carlos", "Diego", "Eduardo", "Felipe", "Gabriel", "Hugo",
             "Igor", "Joao", "Lucas", "Marco", "Nicolas", "Pedro", "Rafael", "Tiago"),
}
_LAST = ("Almeida", "Barbosa", "Costa", "Dias", "Ferreira", "Gomes", "Lima", "Martins",
         "Nunes", "Oliveira", "Pereira", "Ribeiro", "Santos", "Silva", "Souza", "Teixeira")
_STREETS = ("Rua das Flores", "Avenida Paulista", "Rua Augusta", "Avenida Atlantica",
            "Rua da Paz", "Travessa do Mercado", "Rua Sete de Setembro", "Avenida Brasil")
_PLACES = (("Sao Paulo", "Sao Paulo", "Brazil"), ("Rio de Janeiro", "Rio de Janeiro", "Brazil"),
           ("Porto", "Porto", "Portugal"), ("Lisboa", "Lisboa", "Portugal"),
           ("Curitiba", "Parana", "Brazil"), ("Recife", "Pernambuco", "Brazil"))
_DOMAINS = ("example.com", "example.org", "example.net")


def _iso(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def builtin_users(count: int, rng: random.Random | None = None) -> list[dict]:
    """Users shaped like randomuser.me's ``results`` entries, made without a network.

    Pass a seeded ``random.Random`` for repeatable users.
    """
    rng = rng or random.Random()
    now = _dt.datetime.now(_dt.timezone.utc)
    users = []
    for _ in range(count):
        gender = rng.choice(("female", "male"))
        first = rng.choice(_FIRST[gender])
        last = rng.choice(_LAST)
        city, state, country = rng.choice(_PLACES)
        born = now - _dt.timedelta(days=rng.randint(18 * 365, 80 * 365),
                                   seconds=rng.randint(0, 86_399))
        registered = now - _dt.timedelta(days=rng.randint(0, 15 * 365),
                                         seconds=rng.randint(0, 86_399))
        handle = f"{first.lower()}{last.lower()}{rng.randint(1, 999)}"
        picture_index = rng.randint(0, 99)
        users.append({
            "gender": gender,
            "name": {"title": "Ms" if gender == "female" else "Mr", "first": first, "last": last},
            "location": {
                "street": {"number": rng.randint(1, 9999), "name": rng.choice(_STREETS)},
                "city": city,
                "state": state,
                "country": country,
                "postcode": f"{rng.randint(10000, 99999)}-{rng.randint(100, 999)}",
            },
            "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{rng.choice(_DOMAINS)}",
            "login": {"username": handle},
            "dob": {"date": _iso(born)},
            "registered": {"date": _iso(registered)},
            "phone": f"({rng.randint(11, 99)}) {rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            "picture": {
                "medium": "https://randomuser.me/api/portraits/med/"
                          f"{'women' if gender == 'female' else 'men'}/{picture_index}.jpg"
            },
        })
    return users


def randomuser_users(count: int, url: str | None = None, timeout: float = 30.0) -> list[dict]:
    """Users from randomuser.me (one request for the whole batch). Network errors propagate."""
    base = url or _env("DATAECO_RANDOMUSER_URL", DEFAULT_RANDOMUSER_URL)
    sep = "&" if "?" in base else "?"
    request = urllib.request.Request(f"{base}{sep}results={count}",
                                     headers={"User-Agent": "dataeco-user-automation"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.load(response)
    results = body.get("results")
    if not isinstance(results, list) or len(results) != count:
        raise RuntimeError(f"randomuser answered {len(results or [])} users, asked for {count}")
    return results


def format_user(raw: dict) -> dict:
    """One randomuser-shaped entry → the flat record the topic carries."""
    location = raw["location"]
    street = location["street"]
    return {
        "id": str(uuid.uuid4()),
        "first_name": raw["name"]["first"],
        "last_name": raw["name"]["last"],
        "gender": raw["gender"],
        "address": f"{street['number']} {street['name']}, {location['city']}, "
                   f"{location['state']}, {location['country']}",
        # randomuser gives numeric postcodes for some countries; the table column is text.
        "post_code": str(location["postcode"]),
        "email": raw["email"],
        "username": raw["login"]["username"],
        "dob": raw["dob"]["date"],
        "registered_date": raw["registered"]["date"],
        "phone": raw["phone"],
        "picture": raw["picture"]["medium"],
    }


def make_records(count: int, source_name: str = DEFAULT_SOURCE,
                 rng: random.Random | None = None) -> list[dict]:
    if source_name == "randomuser":
        raw = randomuser_users(count)
    elif source_name == "builtin":
        raw = builtin_users(count, rng)
    else:
        raise ConfigError(f"unknown source {source_name!r}")
    return [format_user(r) for r in raw]


def produce(records: list[dict], bootstrap_servers: str, topic_name: str,
            timeout: float = 30.0, extra_config: dict | None = None) -> int:
    """Send records as JSON, keyed by id; return how many Kafka acknowledged.

    Raises DeliveryError unless every record is acknowledged within ``timeout`` seconds, so a
    broken broker fails the Airflow task instead of passing silently.
    """
    # Imported here so the module (and the DAG file) parses where only the generator is used.
    from confluent_kafka import Producer

    config = {
        "bootstrap.servers": bootstrap_servers,
        "acks": "all",
        "enable.idempotence": True,
        "client.id": "dataeco-user-automation",
        "message.timeout.ms": int(timeout * 1000),
    }
    config.update(extra_config or {})
    producer = Producer(config)
    failures: list[str] = []
    delivered = 0

    def on_delivery(err, msg):
        nonlocal delivered
        if err is not None:
            failures.append(str(err))
        else:
            delivered += 1

    for record in records:
        producer.produce(topic_name, key=record["id"].encode(),
                         value=json.dumps(record).encode(), on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(timeout)
    if remaining or failures or delivered != len(records):
        detail = "; ".join(sorted(set(failures))) or f"{remaining} still queued after {timeout}s"
        raise DeliveryError(f"{delivered} of {len(records)} records reached {topic_name} on "
                            f"{bootstrap_servers}: {detail}")
    return delivered


def run() -> int:
    """One batch with the environment's settings; what the DAG's task calls."""
    rng = random.Random(seed()) if seed() is not None else None
    records = make_records(users_per_run(), source(), rng)
    return produce(records, bootstrap(), topic(), timeout=kafka_timeout())


if __name__ == "__main__":
    print(f"sent {run()} users")

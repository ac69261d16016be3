#!/usr/bin/env python3
"""Produces COUNT messages to a Kafka broker with kafka-python (Debian's python3-kafka).

Used by python_client_kafkatest to show that a client other than librdkafka can use the
devbroker. Message i has key "py-<i>" and value "python-message-<i>".

Exit codes: 0 all messages acknowledged, 1 a send failed, 77 the kafka module is missing
(the test skips).
"""

import argparse
import sys

try:
    import kafka
except ImportError as error:  # The test turns this into a skip with this message.
    print(f"kafka-python unavailable ({error}); install python3-kafka", file=sys.stderr)
    sys.exit(77)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True, help="host:port[,host:port...]")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()

    producer = kafka.KafkaProducer(
        bootstrap_servers=args.bootstrap.split(","),
        client_id="autostage-python-test",
        acks="all",
        retries=5,
        request_timeout_ms=10000,
        max_block_ms=15000,
    )
    futures = [
        producer.send(args.topic, key=f"py-{i}".encode(), value=f"python-message-{i}".encode())
        for i in range(args.count)
    ]
    producer.flush(timeout=20)
    failed = 0
    for future in futures:
        try:
            future.get(timeout=10)
        except kafka.errors.KafkaError as error:
            failed += 1
            print(f"send failed: {error!r}", file=sys.stderr)
    producer.close(timeout=5)
    print(f"kafka-python {kafka.__version__}: produced {args.count - failed} of {args.count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

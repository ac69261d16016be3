#!/usr/bin/python3
"""Produces demo data to, and reads messages from, the dev stack's Kafka (python3-kafka).

  kafka_tool.py produce --bootstrap B --opportunities FILE --events FILE
      Opportunity snapshots (JSON lines) go to crm.opportunities keyed by opportunity_id, then
      each event (JSON lines) to crm.events.<source>, keyed by its opportunity_id (else its
      event_id), with the header content-type: application/json (docs/ingest.md).
  kafka_tool.py consume --bootstrap B --topic T [--max N] [--timeout S]
      Prints each message of T from the beginning as one JSON line {partition, offset, key,
      headers, value}; stops after N messages (0: never) or S seconds without a new message
      (0: never; Ctrl-C stops).

It is a separate, independent Kafka client on purpose: what it writes is what any connector
would write, and what it reads is what any consumer would read.
"""
import argparse
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

API_VERSION = (2, 5, 0)
JSON_HEADERS = [("content-type", b"application/json")]


def produce(args):
    producer = KafkaProducer(bootstrap_servers=args.bootstrap.split(","),
                             api_version=API_VERSION, acks="all")
    counts = {}
    with open(args.opportunities, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            opp = json.loads(line)
            producer.send("crm.opportunities", key=opp["opportunity_id"].encode(),
                          value=line.strip().encode(), headers=JSON_HEADERS)
            counts["crm.opportunities"] = counts.get("crm.opportunities", 0) + 1
    producer.flush(30)
    with open(args.events, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            event = json.loads(line)
            topic = "crm.events." + event["source"]
            key = event.get("opportunity_id") or event["event_id"]
            producer.send(topic, key=key.encode(), value=line.strip().encode(),
                          headers=JSON_HEADERS)
            counts[topic] = counts.get(topic, 0) + 1
    producer.flush(30)
    producer.close()
    for topic in sorted(counts):
        print(f"produced {counts[topic]:3d} to {topic}")


def consume(args):
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap.split(","),
                             api_version=API_VERSION, enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=200)
    partitions = consumer.partitions_for_topic(args.topic)
    deadline = time.monotonic() + 10
    while not partitions and time.monotonic() < deadline:
        time.sleep(0.2)
        partitions = consumer.partitions_for_topic(args.topic)
    if not partitions:
        sys.exit(f"kafka_tool: topic {args.topic} not found")
    tps = [TopicPartition(args.topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    seen = 0
    last = time.monotonic()
    while args.max == 0 or seen < args.max:
        got = False
        for message in consumer:
            got = True
            seen += 1
            value = message.value.decode("utf-8", errors="replace")
            try:
                value = json.loads(value)
            except ValueError:
                pass
            print(json.dumps({
                "partition": message.partition, "offset": message.offset,
                "key": message.key.decode("utf-8", errors="replace") if message.key else None,
                "headers": {k: v.decode("utf-8", errors="replace") for k, v in message.headers},
                "value": value}, ensure_ascii=False), flush=True)
            if args.max and seen >= args.max:
                break
        if got:
            last = time.monotonic()
        elif args.timeout and time.monotonic() - last > args.timeout:
            break
    consumer.close()
    if args.max and seen < args.max:
        sys.exit(f"kafka_tool: {seen} of {args.max} messages in {args.topic} "
                 f"after {args.timeout}s without a new one")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--opportunities", required=True)
    p.add_argument("--events", required=True)
    c = sub.add_parser("consume")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--topic", required=True)
    c.add_argument("--max", type=int, default=0)
    c.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    produce(args) if args.command == "produce" else consume(args)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)

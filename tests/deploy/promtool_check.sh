#!/usr/bin/env bash
# promtool check rules + promtool test rules on deploy/prometheus (and the compose scrape
# config). Exit 77 (CTest SKIP) when promtool is not installed: tools/setup.sh installs it.
set -euo pipefail
src="$1"
if ! command -v promtool >/dev/null; then
  echo "SKIP: promtool not found (Debian package prometheus; tools/setup.sh installs it)"
  exit 77
fi
promtool check rules "$src/deploy/prometheus/alerts.yml"
promtool check config --syntax-only "$src/deploy/compose/prometheus.yml"
if [ -f "$src/deploy/prometheus/prometheus.yml" ]; then
  promtool check config --syntax-only "$src/deploy/prometheus/prometheus.yml"
fi
cd "$src/deploy/prometheus"
promtool test rules alerts_test.yml

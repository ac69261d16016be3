#!/usr/bin/env bash
# Writes the token secrets docker-compose.yml mounts: secrets/ingest.token (the ingest
# service's bearer token), secrets/rep.token (a demo rep) and secrets/review-tokens.yaml (their
# SHA-256 digests, the only form review stores). Refuses to overwrite existing secrets.
#   deploy/compose/make-secrets.sh [DIR]     (default: deploy/compose/secrets)
set -euo pipefail
dir="${1:-$(dirname "$0")/secrets}"
if [ -e "$dir/review-tokens.yaml" ]; then
  echo "make-secrets: $dir/review-tokens.yaml exists; remove $dir to regenerate" >&2
  exit 1
fi
mkdir -p "$dir"
umask 077
new_token() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
digest() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
ingest_token="$(new_token)"
rep_token="$(new_token)"
printf %s "$ingest_token" >"$dir/ingest.token"
printf %s "$rep_token" >"$dir/rep.token"
cat >"$dir/review-tokens.yaml" <<YAML
- {sha256: $(digest "$ingest_token"), id: ingest-1, kind: service, role: ingest}
- {sha256: $(digest "$rep_token"), id: rep-demo, kind: human, role: rep, team: demo}
YAML
# The services run as uid 10001 (the image's autostage user) and read the files via mounts.
chmod 0644 "$dir/ingest.token" "$dir/review-tokens.yaml"
echo "make-secrets: wrote $dir (rep token for autostagectl: $dir/rep.token)"

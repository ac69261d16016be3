#!/usr/bin/env bash
# README command 1: set up, build, start the whole dev stack, feed it the demo corpus
# (deploy/demo: 12 opportunities, 33 emails/calls/chats) and show the pending proposals as a
# rep sees them, with the commands to confirm one and to watch the stage change arrive.
#   tools/demo.sh [--state DIR] [BUILD_DIR]   (defaults: a new temporary directory; build-demo)
# The demo builds in its own directory with tools/cmake_args.sh (-O1 without debug info, ccache
# when installed; the same flags as tools/test.sh, whose objects it then reuses), so set-up +
# build + demo stay within 10 minutes on a 2-core machine.
# The stack keeps running afterwards; stop it with: <build>/bin/devstack down --state DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build="build-demo"
state=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --state) state="${2:?--state needs a directory}"; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) build="$1"; shift ;;
  esac
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1/5 Debian packages (tools/setup.sh)"
bash tools/setup.sh

step "2/5 build only what the demo runs"
# shellcheck source=tools/cmake_args.sh
source tools/cmake_args.sh
cmake -S . -B "${build}" "${autostage_cmake_args[@]}" > /dev/null
cmake --build "${build}" --target devbroker autostage-review autostage-ingest autostagectl rulectl
bin="$(cd "${build}/bin" && pwd)"
"${bin}/rulectl" lint deploy/rules

step "3/5 start the dev stack (devbroker, redis-server, review, ingest, prometheus if installed)"
[[ -n "${state}" ]] || state="$(mktemp -d "${TMPDIR:-/tmp}/autostage-demo.XXXXXX")"
if [[ -f "${state}/stack.env" ]] && "${bin}/devstack" status --state "${state}" > /dev/null 2>&1; then
  echo "a stack is already running in ${state}; stopping it first"
  "${bin}/devstack" down --state "${state}"
fi
"${bin}/devstack" up --state "${state}"
set -a
# shellcheck disable=SC1091
source "${state}/stack.env"
set +a

step "4/5 produce the demo opportunities and events to Kafka (python3-kafka)"
"${bin}/devstack" load --state "${state}"
events="$(grep -c . deploy/demo/events.jsonl)"
handled() {
  curl -fsS --max-time 2 "${INGEST_METRICS_URL}" |
    awk '/^autostage_ingest_events_handled_total/ { s += $NF } END { print s + 0 }'
}
deadline=$((SECONDS + 120))
until [[ "$(handled)" -ge "${events}" ]]; do
  if ((SECONDS > deadline)); then
    echo "demo: ingest handled $(handled) of ${events} events in 120s; logs: ${state}/logs/" >&2
    exit 1
  fi
  sleep 0.5
done
echo "ingest judged all ${events} events; proposals are waiting in review"

step "5/5 the pending proposals, as rep 林静 (rep-lin) sees them"
ctl=("${bin}/autostagectl" --review "${REVIEW_ADDR}" --pipelines "${PIPELINES_FILE}")
"${ctl[@]}" --token "${TOKEN_REP_LIN}" pending
echo
echo "... and as rep 何雨 (rep-he), same team:"
"${ctl[@]}" --token "${TOKEN_REP_HE}" pending

first="$("${ctl[@]}" --token "${TOKEN_REP_LIN}" pending --json |
  /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin)["proposals"]; print(p[0]["proposal"]["proposal_id"] if p else "")')"
cat << EOF

Next (the stack keeps running; state, configs and logs in ${state}):
  set -a; source ${state}/stack.env; set +a
  # see one proposal with all its evidence, then confirm it as its owner:
  ${bin}/autostagectl --review \$REVIEW_ADDR --token \$TOKEN_REP_LIN --pipelines \$PIPELINES_FILE show ${first:-ID}
  ${bin}/autostagectl --review \$REVIEW_ADDR --token \$TOKEN_REP_LIN confirm ${first:-ID}
  # watch the stage change arrive on crm.stage-changes (Ctrl-C stops):
  ${bin}/devstack consume --state ${state} --topic crm.stage-changes --timeout 0
  # rep-he may not confirm rep-lin's proposal (exit code 5):
  ${bin}/autostagectl --review \$REVIEW_ADDR --token \$TOKEN_REP_HE confirm ${first:-ID}
  # live queue updates, the team view of the manager, Prometheus:
  ${bin}/autostagectl --review \$REVIEW_ADDR --token \$TOKEN_REP_LIN watch
  ${bin}/autostagectl --review \$REVIEW_ADDR --token \$TOKEN_MGR_SOUTH pending
EOF
[[ -n "${PROMETHEUS_URL:-}" ]] && echo "  open ${PROMETHEUS_URL}/graph  (try: autostage_review_decisions_total)"
echo "  # stop everything:"
echo "  ${bin}/devstack down --state ${state}"

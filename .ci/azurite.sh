#!/usr/bin/env bash
# Starts and stops a private Azurite blob service for the Azure store tests.
#
#   .ci/azurite.sh start [port]   install azurite@3.37.0 if needed, start it in the
#                                 background, wait until the port accepts connections,
#                                 and print the line the tests read:
#                                   export AZURITE_BLOB_URL=http://127.0.0.1:<port>/devstoreaccount1
#                                 (so `eval "$(.ci/azurite.sh start)"` sets it)
#   .ci/azurite.sh stop [port]    stop the instance started for that port, by its PID
#
# Environment:
#   AZURITE_DIR       npm prefix holding the install (default: <repo>/.ci/node)
#   AZURITE_PORT      port when none is given (default: 10000)
#   AZURITE_LOCATION  data directory (default: a fresh temporary directory); give the
#                     same one again to restart an instance with its blobs
#   AZURITE_RUN_DIR   where the PID and log files go (default: /tmp/azcloudhsm-azurite)
#   AZURITE_CERT, AZURITE_KEY
#                     PEM certificate and key: serve HTTPS (the printed URL is https)
#   AZURITE_OAUTH     an OAuth level for bearer tokens (`basic`; needs HTTPS)
#
# 3.37.0 is pinned: older releases refuse the x-ms-version the Rust SDK sends.
set -euo pipefail

readonly VERSION=3.37.0
readonly ACCOUNT=devstoreaccount1
repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
install_dir=${AZURITE_DIR:-$repo_dir/.ci/node}
run_dir=${AZURITE_RUN_DIR:-/tmp/azcloudhsm-azurite}
command=${1:-}
port=${2:-${AZURITE_PORT:-10000}}
pid_file=$run_dir/azurite-$port.pid
log_file=$run_dir/azurite-$port.log

fail() {
    echo "azurite.sh: $*" >&2
    exit 1
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

install() {
    local binary=$install_dir/node_modules/.bin/azurite-blob
    local installed
    installed=$(node -p "require('$install_dir/node_modules/azurite/package.json').version" 2>/dev/null || true)
    if [[ -x $binary && $installed == "$VERSION" ]]; then
        echo "$binary"
        return
    fi
    command -v npm >/dev/null || fail "npm is needed to install azurite@$VERSION"
    mkdir -p "$install_dir"
    echo "azurite.sh: installing azurite@$VERSION into $install_dir" >&2
    npm install --no-audit --no-fund --prefix "$install_dir" "azurite@$VERSION" >&2 \
        || fail "npm install azurite@$VERSION failed"
    [[ -x $binary ]] || fail "$binary is missing after the install"
    echo "$binary"
}

start() {
    [[ $port =~ ^[0-9]+$ ]] || fail "bad port '$port'"
    mkdir -p "$run_dir"
    if [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        fail "an instance for port $port is already running (PID $(cat "$pid_file"))"
    fi
    port_open "$port" && fail "port $port is already in use by another program"
    local binary location
    binary=$(install)
    location=${AZURITE_LOCATION:-$(mktemp -d "${TMPDIR:-/tmp}/azurite-data.XXXXXX")}
    mkdir -p "$location"
    local scheme=http
    local extra=()
    if [[ -n ${AZURITE_CERT:-} || -n ${AZURITE_KEY:-} ]]; then
        [[ -f ${AZURITE_CERT:-} && -f ${AZURITE_KEY:-} ]] \
            || fail "AZURITE_CERT and AZURITE_KEY must both name PEM files"
        extra+=(--cert "$AZURITE_CERT" --key "$AZURITE_KEY")
        scheme=https
    fi
    if [[ -n ${AZURITE_OAUTH:-} ]]; then
        [[ $scheme == https ]] || fail "AZURITE_OAUTH needs AZURITE_CERT and AZURITE_KEY"
        extra+=(--oauth "$AZURITE_OAUTH")
    fi
    nohup "$binary" --blobHost 127.0.0.1 --blobPort "$port" --location "$location" --silent \
        "${extra[@]}" >"$log_file" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$pid_file"
    # Bounded wait: Azurite listens within a second or two on an idle machine.
    local tries=0
    until port_open "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file"
            cat "$log_file" >&2 || true
            fail "azurite exited before listening on port $port"
        fi
        tries=$((tries + 1))
        if ((tries > 300)); then
            kill "$pid" 2>/dev/null || true
            rm -f "$pid_file"
            fail "azurite did not listen on port $port within 30 s"
        fi
        sleep 0.1
    done
    echo "azurite.sh: azurite $VERSION on port $port, PID $pid, data in $location" >&2
    echo "export AZURITE_BLOB_URL=$scheme://127.0.0.1:$port/$ACCOUNT"
}

stop() {
    [[ -f $pid_file ]] || fail "no instance recorded for port $port ($pid_file is missing)"
    local pid
    pid=$(cat "$pid_file")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        local tries=0
        while kill -0 "$pid" 2>/dev/null; do
            tries=$((tries + 1))
            if ((tries > 100)); then
                kill -9 "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
    fi
    rm -f "$pid_file"
    echo "azurite.sh: stopped the instance on port $port (PID $pid)" >&2
}

case $command in
    start) start ;;
    stop) stop ;;
    *) fail "usage: $0 start|stop [port]" ;;
esac

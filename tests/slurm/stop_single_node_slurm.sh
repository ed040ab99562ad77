#!/usr/bin/env bash
# stop_single_node_slurm.sh - stop what start_single_node_slurm.sh started, and
# only that: the PIDs recorded in $STATE_DIR/{slurmd,slurmctld,munged}.pid, each
# signalled only while /proc/<pid>/comm still names that daemon. Nothing is
# killed by name. Jobs still in the queue are cancelled first (KEEP_JOBS=1 skips
# that) so that no slurmstepd outlives slurmd. Packages and /etc/slurm stay.
set -uo pipefail
STATE_DIR=${STATE_DIR:-${TMPDIR:-/tmp}/fptopt-slurm}
export PATH="$PATH:/usr/sbin:/sbin"
log() { printf '[stop-slurm %s] %s\n' "$(date +%T)" "$*" >&2; }

running() { [ -d "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
ours() {  # ours NAME -> PID on stdout when the recorded PID is a live NAME
    local pf="$STATE_DIR/$1.pid" pid
    [ -s "$pf" ] || return 1
    pid=$(cat "$pf")
    running "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

if [ "${KEEP_JOBS:-0}" != 1 ] && ours slurmctld >/dev/null; then
    jobs=$(squeue -h -t PD,R,CG,S -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        log "cancelling jobs: $jobs"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null
        for _ in $(seq 1 30); do
            [ -z "$(squeue -h -t PD,R,CG -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
fi

stop_one() {
    local name=$1 pf="$STATE_DIR/$1.pid" pid
    if [ ! -s "$pf" ]; then log "$name: no pid file, nothing to stop"; return 0; fi
    if ! pid=$(ours "$name"); then
        log "$name: recorded pid $(cat "$pf") is gone (or no longer $name); removing the stale pid file"
        rm -f "$pf"; return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 50); do running "$pid" || break; sleep 0.2; done
    if running "$pid"; then
        log "$name: pid $pid ignored SIGTERM; SIGKILL"
        kill -KILL "$pid"
    fi
    rm -f "$pf"
    log "$name: stopped pid $pid"
}

stop_one slurmd
stop_one slurmctld
stop_one munged
rm -f "$STATE_DIR/cluster.env"
exit 0

#!/usr/bin/env bash
# A real single-node Slurm on this machine, for trying BACKEND=slurm and for its tests.
#
#   scripts/local_slurm.sh start STATE_DIR   munged, slurmctld and slurmd, all kept in STATE_DIR
#   scripts/local_slurm.sh env STATE_DIR     prints `export SLURM_CONF=STATE_DIR/slurm.conf`
#   scripts/local_slurm.sh stop STATE_DIR    cancels its jobs, stops the three daemons
#
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge packages
# (apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge).
# No systemd: the daemons are started by hand, with a private munge socket and free
# ports, so two of these clusters (or one beside a real one) never meet; a requeued job
# waits 10 s (cred_expire), not the default 2 minutes. One partition,
# `debug`, with every CPU of this machine; no accounting (sacct), no GPUs.
# STATE_DIR's path must be traversable by everyone (munged checks its socket's folders).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|env STATE_DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
case "$1" in start | stop | env) ;; *) usage ;; esac
action=$1
state=$(realpath -m "$2")
conf=$state/slurm.conf
export SLURM_CONF=$conf

die() {
    echo "error: local_slurm: $*" >&2
    exit 1
}

# Wait up to $1 tenths of a second for the command after it to succeed.
wait_until() {
    local tries=$1
    shift
    until "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.1
    done
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_conf() {
    local host cpus mem ctld_port slurmd_port
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
    cat >"$conf" <<EOF
# Written by scripts/local_slurm.sh: a single-node Slurm for BACKEND=slurm and its tests.
ClusterName=ksweep
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket,cred_expire=10
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MailProg=/bin/true
ReturnToService=2
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
NodeName=localhost NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    local dir=$state/munge
    mkdir -p "$dir"
    chmod 711 "$state" "$dir"
    [ -f "$dir/munge.key" ] || mungekey --create --keyfile="$dir/munge.key" >/dev/null
    chmod 400 "$dir/munge.key"
    if ! munge -n -S "$dir/munge.socket" >/dev/null 2>&1; then
        munged --socket="$dir/munge.socket" --key-file="$dir/munge.key" --log-file="$dir/munged.log" \
            --pid-file="$dir/munged.pid" --seed-file="$dir/munged.seed" ||
            die "munged did not start (see $dir/munged.log)"
    fi
}

start() {
    [ "$(id -u)" = 0 ] || die "needs root (the daemons run as root here)"
    local missing=""
    for program in munged mungekey slurmctld slurmd scontrol sinfo sbatch squeue scancel srun; do
        command -v "$program" >/dev/null || missing="$missing $program"
    done
    [ -z "$missing" ] || die "missing:$missing (apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge)"
    mkdir -p "$state"/{state,spool,log,run}
    if [ -f "$conf" ] && scontrol ping 2>/dev/null | grep -q UP; then
        echo "  SLURM   already running: export SLURM_CONF=$conf"
        return
    fi
    start_munge
    [ -f "$conf" ] || write_conf
    slurmctld || die "slurmctld did not start (see $state/log/slurmctld.log)"
    wait_until 100 sh -c 'scontrol ping | grep -q UP' ||
        die "slurmctld is not answering (see $state/log/slurmctld.log)"
    slurmd || die "slurmd did not start (see $state/log/slurmd.log)"
    wait_until 150 sh -c '[ "$(sinfo -h -o %t)" = idle ]' ||
        die "the node did not come up idle: $(sinfo -h -o %t 2>&1) (see $state/log/slurmd.log)"
    echo "  SLURM   up: export SLURM_CONF=$conf"
}

stop_pid() {
    local file=$1
    [ -f "$file" ] || return 0
    local pid
    pid=$(cat "$file")
    if kill "$pid" 2>/dev/null; then
        wait_until 100 sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

stop() {
    if [ -f "$conf" ] && scontrol ping 2>/dev/null | grep -q UP; then
        # Jobs first, so that no job step outlives the daemons that follow it.
        jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            wait_until 150 sh -c '[ -z "$(squeue -h -o %A)" ]' || true
        fi
    fi
    stop_pid "$state/run/slurmd.pid"
    stop_pid "$state/run/slurmctld.pid"
    stop_pid "$state/munge/munged.pid"
    echo "  SLURM   stopped ($state)"
}

case "$action" in
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$conf" ;;
esac

#!/bin/bash
# netns.sh: several "hosts" on one machine, for trying data-parallel training across hosts.
#
# Each host is a network namespace with one interface, pm0, plugged into a bridge that
# lives in a namespace of its own (NAME-sw), so nothing of the machine's own network is
# touched. Host i has the address 10.231.0.(i+1)/24; rank 0's host (NAME-0) is the master.
# Needs root and iproute2 (Debian package iproute2).
#
#   netns.sh up NAME HOSTS              create NAME-sw and NAME-0 … NAME-(HOSTS-1)
#   netns.sh down NAME HOSTS            remove them
#   netns.sh addr I                     print host I's address
#   netns.sh train NAME HOSTS PER_HOST TRAIN_BINARY [flags…]
#       create the hosts, start PER_HOST ranks of TRAIN_BINARY (examples/train built with
#       go build) in each, with torchrun's variables and MASTER_ADDR the first host's
#       address, wait for them, remove the hosts; exits with the first failing rank's code.
#
# Example (two hosts, two ranks each, on a synthetic PosMed set):
#
#   go build -o /tmp/prsmed-train ./examples/train
#   sudo third_party/cluster/netns.sh train demo 2 2 /tmp/prsmed-train \
#       -data /tmp/posmed -out /tmp/run -epochs0 0 -epochs1 1 -epochs2 0 -batch 2 -dist-timeout 2m
set -euo pipefail

subnet=10.231.0

addr() { echo "$subnet.$(($1 + 1))"; }

down() {
	local name=$1 hosts=$2 i
	for ((i = 0; i < hosts; i++)); do ip netns del "$name-$i" 2>/dev/null || true; done
	ip netns del "$name-sw" 2>/dev/null || true
}

up() {
	local name=$1 hosts=$2 i
	ip netns add "$name-sw"
	ip -n "$name-sw" link add br0 type bridge
	ip -n "$name-sw" link set br0 up
	for ((i = 0; i < hosts; i++)); do
		ip netns add "$name-$i"
		# One veth pair per host: pm0 inside the host, p$i on the bridge.
		ip -n "$name-sw" link add "p$i" type veth peer name pm0 netns "$name-$i"
		ip -n "$name-sw" link set "p$i" master br0 up
		ip -n "$name-$i" link set lo up
		ip -n "$name-$i" addr add "$(addr "$i")/24" dev pm0
		ip -n "$name-$i" link set pm0 up
	done
}

train() {
	local name=$1 hosts=$2 per=$3 bin=$4
	shift 4
	local world=$((hosts * per)) port=29500 pids=() code=0 h l r
	# shellcheck disable=SC2064 # expanded now: the locals are gone when the trap runs
	trap "down '$name' '$hosts'" EXIT
	up "$name" "$hosts"
	for ((h = 0; h < hosts; h++)); do
		for ((l = 0; l < per; l++)); do
			r=$((h * per + l))
			ip netns exec "$name-$h" env RANK=$r LOCAL_RANK=$l WORLD_SIZE=$world \
				MASTER_ADDR="$(addr 0)" MASTER_PORT=$port GLOO_SOCKET_IFNAME=pm0 OMP_NUM_THREADS=1 \
				"$bin" "$@" &
			pids+=($!)
		done
	done
	for p in "${pids[@]}"; do
		wait "$p" || {
			c=$?
			if [ "$code" = 0 ]; then code=$c; fi
		}
	done
	return "$code"
}

case "${1:-}" in
up) up "$2" "$3" ;;
down) down "$2" "$3" ;;
addr) addr "$2" ;;
train) shift; train "$@" ;;
*)
	sed -n '2,22p' "$0" >&2
	exit 2
	;;
esac

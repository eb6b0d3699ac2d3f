package main

// The etcd raft example's scenarios (raft/kv and its hazards) in simrun.
import _ "github.com/synod-sim/synod/examples/etcdraft"

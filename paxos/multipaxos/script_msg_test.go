package multipaxos

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/paxos"
)

func TestScriptOpsAndCommands(t *testing.T) {
	var names []string
	var kv, lock []Op
	for o := Op(0); o <= numOps; o++ {
		names = append(names, o.String())
		if o.IsKV() {
			kv = append(kv, o)
		}
		if o.IsLock() {
			lock = append(lock, o)
		}
	}
	require.Equal(t, []string{"noop", "get", "put", "append", "cas", "acquire", "release", "reconfig", "open", "keepalive", "expire", "op(11)"}, names)
	require.Equal(t, []Op{OpGet, OpPut, OpAppend, OpCAS}, kv)
	require.Equal(t, []Op{OpAcquire, OpRelease}, lock)

	c, s, ok := Noop.Request()
	require.Equal(t, []any{0, uint64(0), false}, []any{c, s, ok})
	c, s, ok = Command{Op: OpGet, Client: 4, Seq: 9}.Request()
	require.Equal(t, []any{4, uint64(9), true}, []any{c, s, ok})
	c, s, ok = Command{Op: OpReconfig, Client: -1, Change: AddReplica(3)}.Request()
	require.Equal(t, []any{0, uint64(0), false}, []any{c, s, ok}, "an operator's change is no client's request")
	c, s, ok = Command{Op: OpReconfig, Client: 4, Seq: 9, Change: AddReplica(3)}.Request()
	require.Equal(t, []any{4, uint64(9), true}, []any{c, s, ok})
	require.True(t, Noop.IsNoop())
	require.False(t, Command{Op: OpGet}.IsNoop())
	require.Equal(t, "k255", KeyName(255))
	require.Equal(t, "l3", LockName(3))

	for want, cmd := range map[string]Command{
		"noop":                               Noop,
		`get(k1) c4#2`:                       {Op: OpGet, Key: 1, Client: 4, Seq: 2},
		`put(k1, "v") c4#2`:                  {Op: OpPut, Key: 1, Client: 4, Seq: 2, Value: "v"},
		`append(k0, "w") c5#10`:              {Op: OpAppend, Key: 0, Client: 5, Seq: 10, Value: "w"},
		`cas(k2, "o", "n") c4#2`:             {Op: OpCAS, Key: 2, Client: 4, Seq: 2, Old: "o", Value: "n"},
		`acquire(l1) c4#2`:                   {Op: OpAcquire, Key: 1, Client: 4, Seq: 2},
		`release(l0) c4#3`:                   {Op: OpRelease, Key: 0, Client: 4, Seq: 3},
		`op(99)(k1) c4#2`:                    {Op: 99, Key: 1, Client: 4, Seq: 2},
		`reconfig(+{3} -{1})`:                {Op: OpReconfig, Client: -1, Change: ReplaceReplica(1, 3)},
		`reconfig(+{3} -> e1{0,1,2,3}) c5#2`: {Op: OpReconfig, Client: 5, Seq: 2, Change: AddReplica(3), Conf: Conf{Epoch: 1, Members: 0b1111}},
		`put(k3, "a\"b") c12#123456789`:      {Op: OpPut, Key: 3, Client: 12, Seq: 123456789, Value: `a"b`},
	} {
		require.Equal(t, want, cmd.String())
	}
}

func TestScriptMessageStrings(t *testing.T) {
	bal := paxos.Ballot{Round: 3, Node: 1}
	get := Command{Op: OpGet, Key: 1, Client: 4, Seq: 2}
	var many []Entry
	for i := 1; i <= 10; i++ {
		many = append(many, Entry{Slot: Slot(i), Cmd: Noop, Decided: true})
	}
	for want, m := range map[string]Msg{
		`request get(k1) c4#2`:             {Type: MsgRequest, Cmd: get},
		`reply c4#2 ok=true v="x" token=7`: {Type: MsgReply, Cmd: get, Result: Result{OK: true, Value: "x", Token: 7}},
		`reply c4#2 ok=false`:              {Type: MsgReply, Cmd: get},
		`redirect c4#2 to n2`:              {Type: MsgRedirect, Cmd: get, Leader: 2},
		`prepare b=3.1 from=5`:             {Type: MsgPrepare, Ballot: bal, Slot: 5},
		`promise b=3.1 from=5 commit=4 [5@2.0:get(k1) c4#2, 6=noop]`: {Type: MsgPromise, Ballot: bal, Slot: 5, Commit: 4, Entries: []Entry{{Slot: 5, Ballot: paxos.Ballot{Round: 2}, Cmd: get}, {Slot: 6, Cmd: Noop, Decided: true}}},
		`nack b=3.1 promised=4.0`:                                    {Type: MsgNack, Ballot: bal, Promised: paxos.Ballot{Round: 4}},
		`accept b=3.1 s=7 commit=6 get(k1) c4#2`:                     {Type: MsgAccept, Ballot: bal, Slot: 7, Commit: 6, Cmd: get},
		`accepted b=3.1 s=7`:                                         {Type: MsgAccepted, Ballot: bal, Slot: 7},
		`heartbeat b=3.1 commit=6`:                                   {Type: MsgHeartbeat, Ballot: bal, Commit: 6},
		`hb-ack b=3.1`:                                               {Type: MsgHeartbeatAck, Ballot: bal, Stamp: 5},
		`catchup-req b=3.1 from=2`:                                   {Type: MsgCatchupReq, Ballot: bal, Slot: 2},
		`catchup b=3.1 from=1 [1=noop, 2=noop, 3=noop, 4=noop, 5=noop, 6=noop, 7=noop, 8=noop, +2 more]`: {Type: MsgCatchup, Ballot: bal, Slot: 1, Entries: many},
		`catchup b=3.1 from=1 [1=noop, 2=noop, 3=noop, 4=noop, 5=noop, 6=noop, 7=noop, 8=noop]`:          {Type: MsgCatchup, Ballot: bal, Slot: 1, Entries: many[:8]},
		`msg(15) b=3.1`: {Type: numMsgTypes, Ballot: bal},
	} {
		require.Equal(t, want, m.String())
	}
	require.Equal(t, "?", MsgType(0).String())
	require.Equal(t, "redirect", MsgRedirect.String())
}

func TestScriptMessageHashes(t *testing.T) {
	seen := map[uint64]string{}
	add := func(m Msg) {
		t.Helper()
		h := m.Hash()
		prev, dup := seen[h]
		require.False(t, dup, "%v hashes like %v", m, prev)
		seen[h] = m.String()
	}
	cmd := Command{Op: OpPut, Key: 1, Client: 4, Seq: 9, Value: "abcdefghij"}
	for _, ty := range []MsgType{MsgRequest, MsgAccept, MsgReply, MsgRedirect} {
		add(Msg{Type: ty, Cmd: cmd})
		c := cmd
		c.Value = "abcdefghik" // past the first 8 bytes
		add(Msg{Type: ty, Cmd: c})
		c.Value = "abcdefgiij" // within the first 8
		add(Msg{Type: ty, Cmd: c})
		c.Value = "abcdefghi" // a prefix
		add(Msg{Type: ty, Cmd: c})
		c.Value = "bacdefghij"
		add(Msg{Type: ty, Cmd: c})
	}
	add(Msg{Type: MsgReply, Cmd: cmd, Result: Result{OK: true}})
	add(Msg{Type: MsgReply, Cmd: cmd, Result: Result{Token: 1}})
	add(Msg{Type: MsgReply, Cmd: cmd, Result: Result{Value: "x"}})
	// Messages that carry no command or result do not hash one.
	for _, ty := range []MsgType{MsgPrepare, MsgHeartbeat, MsgAccepted} {
		require.Equal(t, Msg{Type: ty}.Hash(), Msg{Type: ty, Cmd: cmd, Result: Result{OK: true}}.Hash(), "%v", ty)
	}
	require.Equal(t, Msg{Type: MsgAccept}.Hash(), Msg{Type: MsgAccept, Result: Result{OK: true}}.Hash())
	e := Entry{Slot: 3, Ballot: paxos.Ballot{Round: 2, Node: 1}, Cmd: cmd}
	for _, mod := range []func(*Entry){
		func(e *Entry) {},
		func(e *Entry) { e.Slot = 4 },
		func(e *Entry) { e.Ballot.Round = 3 },
		func(e *Entry) { e.Ballot.Node = 2 },
		func(e *Entry) { e.Decided = true },
		func(e *Entry) { e.Cmd.Old = "o" },
	} {
		x := e
		mod(&x)
		add(Msg{Type: MsgPromise, Entries: []Entry{x}})
	}
	add(Msg{Type: MsgPromise, Entries: []Entry{e, e}})
	add(Msg{Type: MsgNack, Promised: paxos.Ballot{Round: 1}})
	add(Msg{Type: MsgNack, Promised: paxos.Ballot{Node: 1}})
	add(Msg{Type: MsgHeartbeat, Stamp: 1})
	add(Msg{Type: MsgRedirect, Leader: 1})
	add(Msg{Type: MsgHeartbeat, Commit: 1})
	add(Msg{Type: MsgHeartbeat, Ballot: paxos.Ballot{Round: 1}})
}

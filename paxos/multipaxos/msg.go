// Package multipaxos is Multi-Paxos as pure state machines: a replicated log
// of slots with a stable leader, client sessions for exactly-once commands,
// and two services on the log (a key-value store and a Chubby-like lock
// service with fencing tokens), with optional leader-lease reads.
//
// Like package paxos it never imports the simulator: a Server or Client acts
// only through the paxos.Env it is handed, so the same code runs over a real
// transport and disk. Nothing here reads the wall clock, starts a goroutine,
// draws global randomness or iterates a map.
package multipaxos

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/synod-sim/synod/paxos"
)

// Slot numbers a position in the replicated log, from 1.
type Slot uint64

// Seq numbers one client's commands, from 1; with the client id it names a
// command for exactly-once application.
type Seq uint64

// ClientID names a client: its node id in the cluster (ids after the
// replicas).
type ClientID int32

// Op is what a command asks of the replicated services.
type Op uint8

const (
	OpNoop      Op = iota // fills a slot no value was found for; changes nothing
	OpGet                 // read a key
	OpPut                 // write a key
	OpAppend              // append to a key's value
	OpCAS                 // compare-and-set a key
	OpAcquire             // take a lock if it is free: granted with a fencing token
	OpRelease             // give a lock back
	OpReconfig            // change the membership (reconfig.go): Change asks, Conf is what the leader logged
	OpOpen                // open a session (session.go): Value holds its terms; answered with the session id as Token
	OpKeepAlive           // renew session Session's lease
	OpExpire              // the leader's: end session Session, if its keep-alive count is still Beat
	numOps
)

var opNames = [...]string{"noop", "get", "put", "append", "cas", "acquire", "release", "reconfig", "open", "keepalive", "expire"}

func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// IsKV reports whether the op is one of the key-value store's.
func (o Op) IsKV() bool { return o >= OpGet && o <= OpCAS }

// IsLock reports whether the op is one of the lock service's.
func (o Op) IsLock() bool { return o == OpAcquire || o == OpRelease }

// Command is one entry of the log. It is a comparable value: replicas agree
// on a slot when their commands are ==.
type Command struct {
	Op     Op
	Key    uint8 // the key (KV ops) or the lock (lock ops)
	Client ClientID
	Seq    Seq
	Value  string // put, append: the value written; cas: the new value
	Old    string // cas: the value expected
	// Change and Conf are a membership change's (OpReconfig): the change
	// asked for, and the configuration the leader computed from it and
	// logged (zero: refused). Zero in every other command.
	Change Change
	Conf   Conf
	// Session is the session a session command belongs to (session.go):
	// keep-alive, expire, and acquire and release under a session. Beat is
	// an expire's keep-alive count. Zero in every other command.
	Session SessionID
	Beat    uint32
}

// Noop is the command a new leader proposes for a slot that no acceptor of
// its quorum reported a value for.
var Noop = Command{Op: OpNoop}

// IsNoop reports whether c is the no-op.
func (c Command) IsNoop() bool { return c.Op == OpNoop }

// Request names the client request c carries; ok is false for the no-op.
// It is what the exactly-once checker keys on.
func (c Command) Request() (client int, seq uint64, ok bool) {
	if c.Op == OpNoop || c.Seq == 0 { // the no-op, or an operator's membership change
		return 0, 0, false
	}
	return int(c.Client), uint64(c.Seq), true
}

// KeyName names key k as histories and traces show it.
func KeyName(k uint8) string { return keyNames[k] }

// LockName names lock l as histories and traces show it.
func LockName(l uint8) string { return lockNames[l] }

var keyNames, lockNames [256]string

func init() {
	for i := range keyNames {
		keyNames[i] = "k" + strconv.Itoa(i)
		lockNames[i] = "l" + strconv.Itoa(i)
	}
}

func (c Command) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c Command) write(b *strings.Builder) {
	if c.Op == OpNoop {
		b.WriteString("noop")
		return
	}
	b.WriteString(c.Op.String())
	b.WriteByte('(')
	if c.Op >= OpOpen && c.Op < numOps || c.Session != 0 {
		c.writeSession(b)
		return
	}
	if c.Op == OpReconfig {
		b.WriteString(c.Change.String())
		if c.Conf.Epoch > 0 {
			b.WriteString(" -> " + c.Conf.String())
		}
		b.WriteByte(')')
		if c.Seq == 0 {
			return // an operator's, not a client's
		}
		b.WriteString(" c" + strconv.Itoa(int(c.Client)) + "#" + strconv.FormatUint(uint64(c.Seq), 10))
		return
	}
	if c.Op.IsLock() {
		b.WriteString(lockNames[c.Key])
	} else {
		b.WriteString(keyNames[c.Key])
	}
	switch c.Op {
	case OpPut, OpAppend:
		b.WriteString(", " + strconv.Quote(c.Value))
	case OpCAS:
		b.WriteString(", " + strconv.Quote(c.Old) + ", " + strconv.Quote(c.Value))
	}
	b.WriteString(") c")
	b.WriteString(strconv.Itoa(int(c.Client)))
	b.WriteByte('#')
	b.WriteString(strconv.FormatUint(uint64(c.Seq), 10))
}

func (c Command) hash(h uint64) uint64 {
	h = paxos.Mix64(h ^ uint64(c.Op)<<56 ^ uint64(c.Key)<<48 ^ uint64(uint32(c.Client))<<16 ^ uint64(c.Seq))
	h = hashString(h, c.Value)
	h = hashString(h, c.Old)
	if c.Op == OpReconfig { // only here, so that every other command hashes as before
		h = paxos.Mix64(h ^ c.Change.Add ^ c.Change.Remove<<1)
		h = paxos.Mix64(h ^ c.Conf.Members ^ uint64(c.Conf.Epoch)<<1)
	}
	if c.Session != 0 || c.Beat != 0 { // only here, so that every other command hashes as before
		h = paxos.Mix64(h ^ uint64(c.Session)<<32 ^ uint64(c.Beat))
	}
	return h
}

// Result is what a command answered: Value for get, OK for cas, acquire and
// release, Token for a granted acquire.
type Result struct {
	Value string
	OK    bool
	Token uint64
}

func (r Result) hash(h uint64) uint64 {
	ok := uint64(0)
	if r.OK {
		ok = 1
	}
	return hashString(paxos.Mix64(h^r.Token<<1^ok), r.Value)
}

// MsgType says what a message is.
type MsgType uint8

const (
	MsgPrepare      MsgType = iota + 1 // phase 1a for every slot from Slot on
	MsgPromise                         // phase 1b: Entries holds what the acceptor accepted or knows decided from Slot on
	MsgNack                            // refused: the acceptor promised Promised, above Ballot
	MsgAccept                          // phase 2a for one slot; Commit piggybacks the leader's commit index
	MsgAccepted                        // phase 2b, to the leader only
	MsgHeartbeat                       // the leader is alive; Commit is its commit index, Stamp its clock (leases)
	MsgHeartbeatAck                    // lease grant for the heartbeat of Stamp
	MsgCatchupReq                      // a lagging replica asks for decided slots from Slot on
	MsgCatchup                         // decided slots, in Entries
	MsgRequest                         // client -> replica: Cmd
	MsgReply                           // replica -> client: Result for Cmd.Seq
	MsgRedirect                        // replica -> client: ask Leader instead
	MsgWrite                           // lock holder -> protected resource (resource.go): Cmd names the write, Result.Token carries the fencing token
	MsgWriteAck                        // resource -> holder: Result.OK says whether the write was accepted
	numMsgTypes
)

var msgNames = [...]string{"?", "prepare", "promise", "nack", "accept", "accepted", "heartbeat", "hb-ack",
	"catchup-req", "catchup", "request", "reply", "redirect", "write", "write-ack"}

func (t MsgType) String() string {
	if t < numMsgTypes {
		return msgNames[t]
	}
	return "msg(" + strconv.Itoa(int(t)) + ")"
}

// Entry is one slot as a promise or a catch-up carries it.
type Entry struct {
	Slot    Slot
	Ballot  paxos.Ballot // the ballot the sender accepted Cmd at
	Cmd     Command
	Decided bool // the sender knows Cmd is decided in Slot
}

// Msg is every message of the protocol, between replicas and between clients
// and replicas. It is a value: the simulator copies it. Entries is shared
// between copies (the simulator may deliver one message twice), so it is
// never modified after the message is sent.
type Msg struct {
	Type     MsgType
	Ballot   paxos.Ballot
	Promised paxos.Ballot // nack: the promise that refused Ballot
	Slot     Slot
	Commit   Slot
	Stamp    paxos.Time   // heartbeat, ack: the leader's local clock at sending
	Leader   paxos.NodeID // redirect: the replica believed to lead
	Cmd      Command
	Result   Result
	Entries  []Entry
}

// Hash folds every field, for the simulator's run digest.
func (m Msg) Hash() uint64 {
	h := paxos.Mix64(uint64(m.Type)<<56 ^ uint64(m.Ballot.Round)<<24 ^ uint64(uint32(m.Ballot.Node)))
	h = paxos.Mix64(h ^ uint64(m.Promised.Round)<<32 ^ uint64(uint32(m.Promised.Node)))
	h = paxos.Mix64(h ^ uint64(m.Slot)<<32 ^ uint64(m.Commit))
	h = paxos.Mix64(h ^ uint64(m.Stamp) ^ uint64(uint32(m.Leader))<<40)
	if m.Type == MsgRequest || m.Type == MsgAccept || m.Type == MsgReply || m.Type == MsgRedirect {
		h = m.Cmd.hash(h)
	}
	if m.Type == MsgReply || m.Type == MsgWrite || m.Type == MsgWriteAck {
		if m.Type != MsgReply {
			h = m.Cmd.hash(h)
		}
		h = m.Result.hash(h)
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		d := uint64(0)
		if e.Decided {
			d = 1
		}
		h = paxos.Mix64(h ^ uint64(e.Slot)<<1 ^ d ^ uint64(e.Ballot.Round)<<40 ^ uint64(uint32(e.Ballot.Node))<<32)
		h = e.Cmd.hash(h)
	}
	return h
}

func (m Msg) String() string {
	var b strings.Builder
	b.WriteString(m.Type.String())
	switch m.Type {
	case MsgRequest:
		b.WriteByte(' ')
		m.Cmd.write(&b)
		return b.String()
	case MsgReply:
		b.WriteString(" c")
		b.WriteString(strconv.Itoa(int(m.Cmd.Client)))
		b.WriteByte('#')
		b.WriteString(strconv.FormatUint(uint64(m.Cmd.Seq), 10))
		b.WriteByte(' ')
		b.WriteString(m.Result.String())
		return b.String()
	case MsgRedirect:
		fmt.Fprintf(&b, " c%d#%d to n%d", m.Cmd.Client, m.Cmd.Seq, m.Leader)
		return b.String()
	case MsgWrite, MsgWriteAck:
		writeWrite(&b, m)
		return b.String()
	}
	b.WriteString(" b=")
	b.WriteString(m.Ballot.String())
	switch m.Type {
	case MsgPrepare, MsgPromise, MsgCatchupReq, MsgCatchup:
		b.WriteString(" from=")
		b.WriteString(strconv.FormatUint(uint64(m.Slot), 10))
	case MsgAccept, MsgAccepted:
		b.WriteString(" s=")
		b.WriteString(strconv.FormatUint(uint64(m.Slot), 10))
	case MsgNack:
		b.WriteString(" promised=")
		b.WriteString(m.Promised.String())
	}
	if m.Type == MsgAccept || m.Type == MsgHeartbeat || m.Type == MsgPromise {
		b.WriteString(" commit=")
		b.WriteString(strconv.FormatUint(uint64(m.Commit), 10))
	}
	if m.Type == MsgAccept {
		b.WriteByte(' ')
		m.Cmd.write(&b)
	}
	if len(m.Entries) > 0 {
		b.WriteString(" [")
		for i, e := range m.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			if i == 8 {
				fmt.Fprintf(&b, "+%d more", len(m.Entries)-i)
				break
			}
			b.WriteString(strconv.FormatUint(uint64(e.Slot), 10))
			if e.Decided {
				b.WriteString("=")
			} else {
				b.WriteString("@" + e.Ballot.String() + ":")
			}
			e.Cmd.write(&b)
		}
		b.WriteByte(']')
	}
	return b.String()
}

func (r Result) String() string {
	s := "ok=" + strconv.FormatBool(r.OK)
	if r.Value != "" {
		s += " v=" + strconv.Quote(r.Value)
	}
	if r.Token != 0 {
		s += " token=" + strconv.FormatUint(r.Token, 10)
	}
	return s
}

// hashString folds a string 8 bytes at a time.
func hashString(h uint64, s string) uint64 {
	h = paxos.Mix64(h ^ uint64(len(s)))
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = paxos.Mix64(h ^ w)
		s = s[8:]
	}
	var w uint64
	for i := 0; i < len(s); i++ {
		w |= uint64(s[i]) << (8 * i)
	}
	return paxos.Mix64(h ^ w)
}

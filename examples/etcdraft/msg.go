package etcdraft

import (
	"strconv"
	"strings"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/synod-sim/synod/sim"
)

// Msg is everything the simulated network carries in these scenarios: a raft
// message between replicas, or a client's request or the answer to it. The
// raft message travels as the very pointer raft handed out (no encoding),
// so the receiver steps what the sender built; raft treats messages as
// immutable once sent.
type Msg struct {
	Raft *raftpb.Message
	Req  *Request
	Rep  *Reply
}

// OpKind is a client operation on the key-value store.
type OpKind uint8

const (
	OpGet OpKind = iota + 1
	OpPut
	OpCAS
)

var opNames = [...]string{OpGet: "get", OpPut: "put", OpCAS: "cas"}

func (k OpKind) String() string { return opNames[k] }

// Op is one key-value operation: a get, a put, or a compare-and-set of Key
// from Old to Value.
type Op struct {
	Kind            OpKind
	Key, Value, Old string
}

func (o Op) String() string {
	switch o.Kind {
	case OpGet:
		return "get " + o.Key
	case OpPut:
		return "put " + o.Key + "=" + o.Value
	}
	return "cas " + o.Key + " " + strconv.Quote(o.Old) + "->" + o.Value
}

// Request is a client's operation; (Client, Seq) names it across retries, so
// that a retried write takes effect once.
type Request struct {
	Client sim.NodeID
	Seq    uint64
	Op     Op
}

// Reply answers a request: a result (OK, Value), or a redirect to the
// replica the server believes leads (Leader, -1 when it knows none).
type Reply struct {
	Seq      uint64
	Redirect bool
	Leader   sim.NodeID
	OK       bool
	Value    string
}

// Hash folds the message into the run digest: every field raft reads, so
// two runs that deliver different raft messages part at once.
func (m Msg) Hash() uint64 {
	switch {
	case m.Raft != nil:
		return hashRaft(m.Raft)
	case m.Req != nil:
		h := mix(0x7e9, uint64(m.Req.Client), m.Req.Seq, uint64(m.Req.Op.Kind))
		return hashStr(hashStr(hashStr(h, m.Req.Op.Key), m.Req.Op.Value), m.Req.Op.Old)
	case m.Rep != nil:
		h := mix(0x7e5, m.Rep.Seq, uint64(m.Rep.Leader), b2u(m.Rep.Redirect)<<1|b2u(m.Rep.OK))
		return hashStr(h, m.Rep.Value)
	}
	return 0
}

func hashRaft(r *raftpb.Message) uint64 {
	h := mix(uint64(r.GetType()), r.GetTo(), r.GetFrom(), r.GetTerm(), r.GetLogTerm(), r.GetIndex(),
		r.GetCommit(), r.GetVote(), b2u(r.GetReject()), r.GetRejectHint())
	h = hashBytes(h, r.GetContext())
	for _, e := range r.GetEntries() {
		h = hashBytes(mix(h, e.GetTerm(), e.GetIndex(), uint64(e.GetType())), e.GetData())
	}
	if s := r.GetSnapshot(); s != nil {
		md := s.GetMetadata()
		h = hashBytes(mix(h, md.GetIndex(), md.GetTerm()), s.GetData())
	}
	return h
}

// String is the message in a trace line: "MsgApp 1>2 t=2 i=5/1 c=4 ents=1".
func (m Msg) String() string {
	switch {
	case m.Raft != nil:
		return raftString(m.Raft)
	case m.Req != nil:
		return "request c" + strconv.Itoa(int(m.Req.Client)) + "#" + strconv.FormatUint(m.Req.Seq, 10) + " " + m.Req.Op.String()
	case m.Rep != nil:
		r := m.Rep
		s := "#" + strconv.FormatUint(r.Seq, 10)
		if r.Redirect {
			if r.Leader < 0 {
				return "redirect " + s + " (no leader known)"
			}
			return "redirect " + s + " to n" + strconv.Itoa(int(r.Leader))
		}
		return "reply " + s + " ok=" + strconv.FormatBool(r.OK) + " " + strconv.Quote(r.Value)
	}
	return "empty"
}

func raftString(r *raftpb.Message) string {
	var b strings.Builder
	b.WriteString(r.GetType().String())
	b.WriteString(" t=")
	b.WriteString(strconv.FormatUint(r.GetTerm(), 10))
	switch r.GetType() {
	case raftpb.MessageType_MsgApp, raftpb.MessageType_MsgVote, raftpb.MessageType_MsgPreVote:
		b.WriteString(" i=" + strconv.FormatUint(r.GetIndex(), 10) + "/" + strconv.FormatUint(r.GetLogTerm(), 10))
	case raftpb.MessageType_MsgAppResp:
		b.WriteString(" i=" + strconv.FormatUint(r.GetIndex(), 10))
	}
	if r.GetCommit() != 0 {
		b.WriteString(" c=" + strconv.FormatUint(r.GetCommit(), 10))
	}
	if n := len(r.GetEntries()); n > 0 {
		b.WriteString(" ents=" + strconv.Itoa(n))
	}
	if r.GetReject() {
		b.WriteString(" reject hint=" + strconv.FormatUint(r.GetRejectHint(), 10))
	}
	if r.GetSnapshot() != nil && r.GetSnapshot().GetMetadata().GetIndex() != 0 {
		b.WriteString(" snap=" + strconv.FormatUint(r.GetSnapshot().GetMetadata().GetIndex(), 10))
	}
	return b.String()
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func mix(h uint64, xs ...uint64) uint64 {
	for _, x := range xs {
		h = sim.Mix64(h ^ x)
	}
	return h
}

func hashStr(h uint64, s string) uint64 {
	h = sim.Mix64(h ^ uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 0x100000001b3
	}
	return h
}

func hashBytes(h uint64, s []byte) uint64 {
	h = sim.Mix64(h ^ uint64(len(s)))
	for _, c := range s {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	return h
}

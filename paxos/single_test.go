package paxos

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// These tests drive the protocol with a hand-written environment: no
// simulator, no scheduler. That the state machine runs here is the proof
// that it runs over any transport and disk.

type sent struct {
	from, to NodeID
	m        Msg
}

type memDisk struct {
	recs   []any
	synced int
}

func (d *memDisk) Append(r any)   { d.recs = append(d.recs, r) }
func (d *memDisk) Sync()          { d.synced = len(d.recs) }
func (d *memDisk) Records() []any { return d.recs }
func (d *memDisk) crash()         { d.recs = d.recs[:d.synced] }

type cluster struct {
	t      *testing.T
	nodes  []*Single
	disks  []*memDisk
	queue  []sent
	timers []map[TimerID]Duration
	cfg    func(id NodeID) SingleConfig
}

type memEnv struct {
	c  *cluster
	id NodeID
}

func (e memEnv) ID() NodeID                     { return e.id }
func (e memEnv) N() int                         { return len(e.c.nodes) }
func (e memEnv) Now() Time                      { return 0 }
func (e memEnv) LocalNow() Time                 { return 0 }
func (e memEnv) Rand(uint64) uint64             { return 0 }
func (e memEnv) Storage() Storage               { return e.c.disks[e.id] }
func (e memEnv) SetTimer(t TimerID, d Duration) { e.c.timers[e.id][t] = d }
func (e memEnv) CancelTimer(t TimerID)          { delete(e.c.timers[e.id], t) }
func (e memEnv) Send(to NodeID, m Msg) {
	d := e.c.disks[e.id]
	// The ordering rule: an acceptor's answer leaves only after its state
	// is durable.
	if m.Type == MsgPromise || m.Type == MsgAccepted {
		require.Equal(e.c.t, len(d.recs), d.synced, "node %d sent %v with unsynced state", e.id, m)
	}
	e.c.queue = append(e.c.queue, sent{from: e.id, to: to, m: m})
}

func newCluster(t *testing.T, n int, cfg func(id NodeID) SingleConfig) *cluster {
	c := &cluster{t: t, cfg: cfg}
	c.nodes = make([]*Single, n)
	c.disks = make([]*memDisk, n)
	c.timers = make([]map[TimerID]Duration, n)
	for i := range c.nodes {
		c.disks[i] = &memDisk{}
		c.boot(NodeID(i))
	}
	return c
}

func (c *cluster) boot(id NodeID) {
	c.timers[id] = map[TimerID]Duration{}
	c.nodes[id] = NewSingle(memEnv{c: c, id: id}, c.cfg(id))
	c.nodes[id].Start()
}

// deliverAll delivers queued messages in FIFO order until none are left.
func (c *cluster) deliverAll() {
	for len(c.queue) > 0 {
		s := c.queue[0]
		c.queue = c.queue[1:]
		c.nodes[s.to].Receive(s.from, s.m)
	}
}

func TestOneProposerIsDecidedEverywhere(t *testing.T) {
	c := newCluster(t, 3, func(id NodeID) SingleConfig {
		if id == 0 {
			return SingleConfig{Propose: 7}
		}
		return SingleConfig{}
	})
	c.nodes[0].Timeout(TimerPropose)
	c.deliverAll()
	for i, n := range c.nodes {
		v, ok := n.Decision()
		require.True(t, ok, "node %d undecided", i)
		require.Equal(t, Value(7), v)
	}
}

func TestAcceptorRefusesBallotsBelowItsPromise(t *testing.T) {
	c := newCluster(t, 3, func(NodeID) SingleConfig { return SingleConfig{} })
	high, low := Ballot{Round: 5, Node: 2}, Ballot{Round: 4, Node: 1}
	c.nodes[0].Receive(2, Msg{Type: MsgPrepare, Ballot: high})
	c.nodes[0].Receive(1, Msg{Type: MsgAccept, Ballot: low, Value: 9})
	require.Equal(t, high, c.nodes[0].Promised())
	b, _ := c.nodes[0].Accepted()
	require.True(t, b.IsZero(), "accepted below its promise")
	last := c.queue[len(c.queue)-1]
	require.Equal(t, MsgNack, last.m.Type)
	require.Equal(t, high, last.m.AccBallot)
}

func TestPromiseAndAcceptanceSurviveARestart(t *testing.T) {
	c := newCluster(t, 3, func(NodeID) SingleConfig { return SingleConfig{} })
	b := Ballot{Round: 3, Node: 1}
	c.nodes[0].Receive(1, Msg{Type: MsgPrepare, Ballot: b})
	c.nodes[0].Receive(1, Msg{Type: MsgAccept, Ballot: b, Value: 42})
	c.disks[0].crash()
	c.boot(0)
	require.Equal(t, b, c.nodes[0].Promised())
	acc, v := c.nodes[0].Accepted()
	require.Equal(t, b, acc)
	require.Equal(t, Value(42), v)
}

func TestNewProposerAdoptsTheHighestAcceptedValue(t *testing.T) {
	c := newCluster(t, 3, func(id NodeID) SingleConfig { return SingleConfig{Propose: Value(100 + id)} })
	// Node 1's acceptor accepted 55 at ballot 2.1; node 2 accepted 66 at 1.2.
	c.nodes[1].Receive(1, Msg{Type: MsgAccept, Ballot: Ballot{2, 1}, Value: 55})
	c.nodes[2].Receive(2, Msg{Type: MsgAccept, Ballot: Ballot{1, 2}, Value: 66})
	c.queue = nil
	// The first attempt is refused (ballot 1.0 is below both promises); the
	// nacks teach the proposer a high enough round for the second.
	for attempt := 0; attempt < 2; attempt++ {
		c.nodes[0].Timeout(TimerPropose)
		c.deliverAll()
	}
	v, ok := c.nodes[0].Decision()
	require.True(t, ok)
	require.Equal(t, Value(55), v, "must adopt the value of the highest accepted ballot")
}

func TestBugsParseAndPrint(t *testing.T) {
	b, err := ParseBugs("dup-ballot,no-persist")
	require.NoError(t, err)
	require.Equal(t, DupBallot|NoPersist, b)
	require.Equal(t, "dup-ballot,no-persist", b.String())
	_, err = ParseBugs("nope")
	require.ErrorContains(t, err, "unknown bug")
	require.Equal(t, 2, QuorumSize(3, 0))
	require.Equal(t, 1, QuorumSize(3, MinorityQuorum))
	require.Equal(t, 2, QuorumSize(4, EvenQuorum))
	require.Equal(t, 3, QuorumSize(4, 0))
}

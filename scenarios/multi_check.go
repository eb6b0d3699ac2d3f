package scenarios

import (
	"fmt"
	"time"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/paxos"
	mp "github.com/synod-sim/synod/paxos/multipaxos"
	"github.com/synod-sim/synod/sim"
)

// multi/check: Multi-Paxos in the untimed view, bounded so that every
// schedule can be enumerated. Replicas are nodes 0..replicas-1, clients the
// nodes after them. The default workload is the smallest that can show a
// lost write or a stale read: client 0 puts key k0, client 1 gets it, one
// operation each.
//
// Time stands still in the untimed view, which shapes what the protocol can
// do there:
//
//   - A replica campaigns when its election timer fires only if it has heard
//     from no leader or candidate since its last campaign (it measures
//     silence on the clock, and no time passes). A replica that heard one
//     re-arms its timer instead: that firing counts against its bound.
//   - A leader retransmits nothing (the retransmit interval never passes),
//     and its heartbeat timer sends only when the commit index moved.
//   - Leases are off: they are a bet on clocks.
//   - Every draw is 0: each client starts at replica 0 and retries at the
//     next one, and the workload is spelled out (Workload.Commands).
//
// The checkers are the timed scenarios' ones: after every replica step the
// log checker (agreement, applied prefixes, exactly-once, fencing), and the
// client history's linearizability once every client is done or at a
// terminal state (no action enabled). The history's times are logical: the
// rank of each call and return among all of them, so schedules with the
// same real-time order of operations are one checker state.
var multiCheckParams = []Param{
	{Name: "replicas", Default: 3, Min: 1, Max: 7, Doc: "replicas (nodes 0..replicas-1)"},
	{Name: "clients", Default: 2, Min: 1, Max: 4, Doc: "clients (the nodes after the replicas), each on key k0"},
	{Name: "writers", Default: 1, Min: 0, Max: 4, Doc: "the first clients put; the others get"},
	{Name: "spread", Default: 0, Min: 0, Max: 1, Doc: "1: client i first asks replica i mod replicas; 0: every client first asks replica 0"},
	{Name: "ops", Default: 1, Min: 1, Max: 3, Doc: "operations per client, one at a time"},
	{Name: "candidates", Default: 2, Min: 0, Max: 7, Doc: "replicas 0..candidates-1 may campaign (the others' election timers never fire)"},
	{Name: "elections", Default: 2, Min: 0, Max: 6, Doc: "firings of each candidate's election timer (a campaign, or a re-arm if it heard a leader)"},
	{Name: "elections0", Default: -1, Min: -1, Max: 6, Doc: "firings of replica 0's election timer, if a candidate; -1: elections"},
	{Name: "heartbeats", Default: 1, Min: 0, Max: 4, Doc: "firings of each replica's heartbeat timer (while it leads)"},
	{Name: "retries", Default: 1, Min: 0, Max: 4, Doc: "firings of each client's retry timer (resend to the next replica)"},
}

func init() {
	sc := &Scenario{
		Name:    "multi/check",
		Summary: "untimed Multi-Paxos for simrun check: 3 replicas, a put and a get on one key, ballots to round 2; every bound settable",
		Legend:  multiLegend,
		Params:  append(multiCheckParams, faultBudgetParams...),
	}
	sc.Run = func(src sim.Source, opts Options) Result {
		var res Result
		mc, err := newMultiCheck(sc, src, opts, &res)
		if err != nil {
			panic(err) // the CLI and Replay parse settings first
		}
		mc.run(&res)
		return res
	}
	sc.Machine = func(opts Options) (explore.Machine, error) {
		var res Result
		mc, err := newMultiCheck(sc, sim.NewPRNG(0), opts, &res)
		if err != nil {
			return nil, err
		}
		m, err := newMachine(mc.cw)
		if err != nil {
			return nil, err
		}
		return &multiMachine{checkMachine: m.(checkMachine[mp.Msg, *multiMemory]), mc: mc}, nil
	}
	Register(sc)
}

// multiCheck is a multi/check world with its checkers.
type multiCheck struct {
	cw       *checkWorld[mp.Msg, *multiMemory]
	replicas int
	clients  int
	// lin remembers the verdicts of histories checked already: the search
	// ends many schedules with one history. A machine is one worker's.
	lin checker.KVMemo
}

// multiMemory is what multi/check's checkers remember: the log checker, the
// client history with its logical clock, and which history operation each
// client call is.
type multiMemory struct {
	log   *checker.MultiLog[mp.Command]
	hist  *checker.History
	clock int64 // calls and returns recorded: the history's logical time
	// By client: the history operations of the calls of the client's
	// current life, whether the last one returned, and how many lives (a
	// restarted client is a new history client: it starts its workload
	// over and its earlier operation may never return).
	ops      [][]checker.OpID
	returned []bool
	lives    []int
	// linChecked: every client was done and the history was checked.
	linChecked bool
}

func (m *multiMemory) Clone() *multiMemory {
	c := *m
	c.log, c.hist = m.log.Clone(), m.hist.Clone()
	c.ops = make([][]checker.OpID, len(m.ops))
	for i := range m.ops {
		c.ops[i] = append([]checker.OpID(nil), m.ops[i]...)
	}
	c.returned = append([]bool(nil), m.returned...)
	c.lives = append([]int(nil), m.lives...)
	return &c
}

// Fingerprint hashes the log checker and the history (whose logical times
// carry the real-time order of operations). The per-client bookkeeping is
// a function of the history and the clients' own state, but is hashed too:
// it is small.
func (m *multiMemory) Fingerprint() uint64 {
	h := sim.Mix64(m.log.Fingerprint() ^ 0x6d63)
	h = sim.Mix64(h ^ m.hist.Fingerprint())
	h = sim.Mix64(h ^ uint64(m.clock))
	for i := range m.ops {
		r := uint64(0)
		if m.returned[i] {
			r = 1
		}
		h = sim.Mix64(h ^ uint64(len(m.ops[i]))<<32 ^ uint64(m.lives[i])<<8 ^ r)
		for _, op := range m.ops[i] {
			h = sim.Mix64(h ^ uint64(op))
		}
	}
	if m.linChecked {
		h = sim.Mix64(h ^ 0x11c)
	}
	return h
}

func newMultiCheck(sc *Scenario, src sim.Source, opts Options, res *Result) (*multiCheck, error) {
	set, err := sc.ParseSettings(opts.Set)
	if err != nil {
		return nil, err
	}
	n, clients, writers, ops := set.Int("replicas"), set.Int("clients"), set.Int("writers"), set.Int("ops")
	if writers > clients {
		return nil, fmt.Errorf("%s: writers=%d exceeds clients=%d", sc.Name, writers, clients)
	}
	res.Settings = set.All()
	res.Params = fmt.Sprintf("untimed replicas=%d clients=%d writers=%d spread=%d ops=%d candidates=%d elections=%d heartbeats=%d retries=%d drops=%d dups=%d crashes=%d restarts=%d",
		n, clients, writers, set.Int("spread"), ops, min(set.Int("candidates"), n), set.Int("elections"), set.Int("heartbeats"), set.Int("retries"),
		set.Int("drops"), set.Int("dups"), set.Int("crashes"), set.Int("restarts"))
	cfg := mp.Config{Replicas: n, Keys: 1, Bugs: opts.Bugs}
	newNode := func(env *sim.Env[mp.Msg]) sim.Node[mp.Msg] {
		e := envAdapter[mp.Msg]{env}
		id := int(env.ID())
		if id < n {
			return nodeAdapter[mp.Msg, *mp.Server]{mp.NewServer(e, cfg)}
		}
		op := mp.OpGet
		if id-n < writers {
			op = mp.OpPut
		}
		cmds := make([]mp.Command, ops)
		for i := range cmds {
			cmds[i] = mp.Command{Op: op, Key: 0}
		}
		ccfg := mp.ClientConfig{Replicas: n, Workload: mp.Workload{Keys: 1, Commands: cmds}}
		if set.Int("spread") == 1 {
			ccfg.Home = 1 + (id-n)%n
		}
		return nodeAdapter[mp.Msg, *mp.Client]{mp.NewClient(e, ccfg)}
	}
	w := sim.NewWorld(n+clients, src, newNode)
	bounds := faultBounds(set, n+clients)
	bounds.Crashable = 1<<uint(n) - 1 // replicas crash; clients are the test's own
	for i := range bounds.Fires {
		if i < n {
			switch {
			case i == 0 && set.Int("candidates") > 0 && set.Int("elections0") >= 0:
				bounds.Fires[i][mp.TimerElection] = uint8(set.Int("elections0"))
			case i < set.Int("candidates"):
				bounds.Fires[i][mp.TimerElection] = uint8(set.Int("elections"))
			}
			bounds.Fires[i][mp.TimerHeartbeat] = uint8(set.Int("heartbeats"))
		} else {
			// A restarted client issues its workload again.
			bounds.Fires[i][mp.TimerThink] = uint8(ops * (1 + set.Int("restarts")))
			bounds.Fires[i][mp.TimerRetry] = uint8(set.Int("retries"))
		}
	}
	w.Untimed(bounds)
	res.Trace = traceOf(w, opts)
	mem := &multiMemory{log: checker.NewMultiLog[mp.Command](n), hist: &checker.History{},
		ops: make([][]checker.OpID, clients), returned: make([]bool, clients), lives: make([]int, clients)}
	mc := &multiCheck{cw: &checkWorld[mp.Msg, *multiMemory]{w: w, chk: mem}, replicas: n, clients: clients}
	mc.cw.watchShared(mc.observe)
	w.Note(func() string { return "plan " + res.Params })
	return mc, nil
}

// observe checks node id after one of its steps: a replica's events go to
// the log checker, a client's calls and returns to the history. The checker
// memory may be shared with saved states: mutable copies it, and observe
// asks for it only when the step has something to record, so the many
// steps that record nothing (a replica's step without events, a client's
// without a call or return) copy nothing.
func (mc *multiCheck) observe(mutable func() *multiMemory, id sim.NodeID) *checker.Violation {
	w := mc.cw.w
	if int(id) >= mc.replicas {
		return mc.clientStepped(mutable, id)
	}
	srv, ok := protocolOf[mp.Msg, *mp.Server](w.Node(id))
	if !ok {
		return nil
	}
	node := paxos.NodeID(id)
	var found *checker.Violation
	// The acceptor's disk first: a decision in this step may rest on it.
	for _, rec := range w.Disk(id).TakeDurable() {
		if slot, b, cmd, ok := mp.Acceptance(rec); ok {
			if v := mutable().log.Accepted(node, uint64(slot), b, cmd, 0); v != nil && found == nil {
				found = v
			}
		}
	}
	for _, ev := range srv.TakeEvents() {
		var v *checker.Violation
		switch ev.Kind {
		case mp.EvStart:
			mutable().log.Restarted(node)
		case mp.EvDecided:
			v = mutable().log.Decided(node, uint64(ev.Slot), ev.Ballot, ev.Cmd, 0)
			if w.Tracing() {
				w.Note(func() string {
					return fmt.Sprintf("n%d learns slot %d = %v (ballot %v)", id, ev.Slot, ev.Cmd, ev.Ballot)
				})
			}
		case mp.EvApplied:
			mem := mutable()
			v = mem.log.Applied(node, uint64(ev.Slot), ev.Cmd, ev.Outcome == mp.Executed, 0)
			if v == nil && ev.Cmd.Op == mp.OpAcquire && ev.Outcome == mp.Executed && ev.Result.OK {
				v = mem.log.Granted(node, uint64(ev.Slot), int(ev.Cmd.Key), ev.Result.Token, 0)
			}
		case mp.EvLeader:
			if w.Tracing() {
				w.Note(func() string {
					return fmt.Sprintf("n%d leads at ballot %v, recovering slots up to %d", id, ev.Ballot, ev.Slot)
				})
			}
		}
		if v != nil && found == nil {
			found = v
			if w.Tracing() {
				w.Note(func() string { return v.Kind + ": " + v.Message })
			}
		}
	}
	return found
}

// clientStepped records the client's new calls and returns in the history,
// at logical times, and checks the history once every client is done. It
// reads the current memory and asks for a mutable one only to record.
func (mc *multiCheck) clientStepped(mutable func() *multiMemory, id sim.NodeID) *checker.Violation {
	c, ok := protocolOf[mp.Msg, *mp.Client](mc.cw.w.Node(id))
	if !ok {
		return nil
	}
	i := int(id) - mc.replicas
	calls := c.Calls()
	mem := mc.cw.chk // read only until mutable
	if len(calls) < len(mem.ops[i]) {
		// The client restarted: a new life, a new history client.
		mem = mutable()
		mem.ops[i], mem.returned[i] = mem.ops[i][:0], false
		mem.lives[i]++
	}
	hid := int(id) + 64*mem.lives[i]
	for k := len(mem.ops[i]); k < len(calls); k++ {
		mem = mutable()
		mem.clock++
		mem.ops[i] = append(mem.ops[i], mem.hist.Call(hid, mem.clock, historyInput(calls[k].Cmd, hid)))
		mem.returned[i] = false
	}
	if k := len(calls) - 1; k >= 0 && calls[k].Returned && !mem.returned[i] {
		mem = mutable()
		mem.clock++
		r := calls[k].Result
		mem.hist.Return(mem.ops[i][k], mem.clock, checker.Output{Value: r.Value, OK: r.OK, Token: r.Token})
		mem.returned[i] = true
	}
	if mem.linChecked {
		return nil
	}
	for j := 0; j < mc.clients; j++ {
		if c := mc.client(j); c == nil || !c.Done() {
			return nil
		}
	}
	mem = mutable()
	mem.linChecked = true
	return mc.linearizable(mem)
}

func (mc *multiCheck) client(i int) *mp.Client {
	c, _ := protocolOf[mp.Msg, *mp.Client](mc.cw.w.Node(sim.NodeID(mc.replicas + i)))
	return c
}

// linCheckBudget bounds one linearizability check; multi/check's histories
// are a handful of operations, checked in microseconds.
const linCheckBudget = 10 * time.Second

// linearizable checks the history so far against the key-value model.
func (mc *multiCheck) linearizable(mem *multiMemory) *checker.Violation {
	lin := mc.lin.CheckKV(mem.hist, linCheckBudget)
	switch lin.Verdict {
	case checker.LinOk:
		return nil
	case checker.LinIllegal:
		v := lin.Violation()
		if w := mc.cw.w; w.Tracing() {
			w.Note(func() string { return v.Kind + ": " + v.Message })
		}
		return v
	}
	// Out of budget on a history this small means something is broken:
	// never a pass.
	return &checker.Violation{Kind: "linearizability", Message: "undecided: " + lin.Message}
}

// terminal checks a state where no action is enabled: the history, with
// the operations still waiting, unless it was checked when the last client
// finished (it has not changed since).
func (mc *multiCheck) terminal() *checker.Violation {
	mem := mc.cw.chk
	if mem.linChecked {
		return nil
	}
	return mc.linearizable(mem)
}

// run steps the world, one choice per step, until no action is enabled or
// an invariant breaks; a terminal state gets the final history check.
func (mc *multiCheck) run(res *Result) {
	cw := mc.cw
	defer guard(cw.w, res, &cw.found)
	cw.w.Boot()
	for cw.found == nil && cw.w.StepUntimed() {
	}
	if cw.found == nil {
		cw.found = mc.terminal()
	}
	res.Events, res.Digest, res.Violation = cw.w.Events(), cw.w.Digest(), cw.found
}

// multiMachine is multi/check as the explorer drives it: the shared check
// machine, with the terminal history check, and with every client action
// given one actor. Two clients' steps touch different nodes, but the order
// of one's return and the other's call is the real-time order the
// linearizability check reads, so they must not be commuted: the search's
// sleep sets take actions of one actor as dependent.
type multiMachine struct {
	checkMachine[mp.Msg, *multiMemory]
	mc   *multiCheck
	acts []sim.Action
}

func (m *multiMachine) Actions() []sim.Action {
	m.acts = append(m.acts[:0], m.w.Enabled()...)
	first := sim.NodeID(m.mc.replicas)
	for i := range m.acts {
		if m.acts[i].Node > first {
			m.acts[i].Actor = first
		}
	}
	return m.acts
}

func (m *multiMachine) Apply(a sim.Action) error {
	if err := m.checkMachine.Apply(a); err != nil {
		return err
	}
	if len(m.w.Enabled()) == 0 {
		if v := m.mc.terminal(); v != nil {
			return v
		}
	}
	return nil
}

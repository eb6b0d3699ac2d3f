package scenarios

import (
	"fmt"
	"strconv"

	"github.com/synod-sim/synod/checker"
	"github.com/synod-sim/synod/explore"
	"github.com/synod-sim/synod/paxos"
	"github.com/synod-sim/synod/sim"
)

// single/check: single-decree Paxos in the untimed view, bounded so that
// every schedule can be enumerated. The default is the configuration of the
// spin anchor (3 acceptors, 2 proposers, one round each, unordered network,
// no loss).
var singleCheckParams = []Param{
	{Name: "nodes", Default: 3, Min: 1, Max: 7, Doc: "nodes (each an acceptor and a learner)"},
	{Name: "proposers", Default: 2, Min: 1, Max: 7, Doc: "nodes 0..proposers-1 propose their own value"},
	{Name: "rounds", Default: 1, Min: 1, Max: 6, Doc: "ballots each proposer may start (firings of its propose timer, restarts included)"},
	{Name: "learners", Default: 1, Min: 0, Max: 7, Doc: "nodes told of every acceptance (the last ones; 1 as in the spin anchor); 0: all"},
	{Name: "learns", Default: 0, Min: 0, Max: 4, Doc: "decision queries each node may send (firings of its learn timer)"},
	{Name: "collect", Default: 1, Min: 0, Max: 1, Doc: "remove dead messages, which the nodes promise never to act on (paxos.DeadLetters); 0: keep them, and check the promises whenever one is delivered"},
}

func init() {
	sc := &Scenario{
		Name:    "single/check",
		Summary: "untimed single-decree Paxos for simrun check: 3 nodes, 2 proposers, 1 round each; every bound settable",
		Legend:  singleLegend,
		Params:  append(singleCheckParams, faultBudgetParams...),
		Validate: func(set Settings) error {
			if set.Int("proposers") > set.Int("nodes") {
				return fmt.Errorf("proposers=%d exceeds nodes=%d", set.Int("proposers"), set.Int("nodes"))
			}
			return nil
		},
	}
	sc.Run = func(src sim.Source, opts Options) Result {
		var res Result
		cw, err := newSingleCheck(sc, src, opts, &res)
		if err != nil {
			panic(err) // the CLI and Replay parse settings first
		}
		cw.run(&res)
		return res
	}
	sc.Machine = func(opts Options) (explore.Machine, error) {
		var res Result
		cw, err := newSingleCheck(sc, sim.NewPRNG(0), opts, &res)
		if err != nil {
			return nil, err
		}
		if !plainSearch {
			cw.w.DisksUnread() // the checker asks the nodes, not their disks
			// Memo steps: observe only reads the node (the Multi-Paxos
			// checker drains a server's events, so a remembered step
			// would lose them).
			cw.w.Memoize()
		}
		return newMachine(cw)
	}
	Register(sc)
}

// plainSearch switches off the search's shortcuts (step memo, unkept
// disks), for the tests that require the same figures with and without.
var plainSearch bool

func newSingleCheck(sc *Scenario, src sim.Source, opts Options, res *Result) (*checkWorld[paxos.Msg, *checker.SingleDecree], error) {
	set, err := sc.ParseSettings(opts.Set)
	if err != nil {
		return nil, err
	}
	n, props := set.Int("nodes"), set.Int("proposers")
	res.Settings = set.All()
	res.Params = "untimed " + set.All()
	var learners uint64
	for i := n - min(set.Int("learners"), n); i < n && set.Int("learners") > 0; i++ {
		learners |= 1 << uint(i)
	}
	values := proposals(props)
	w := sim.NewWorld(n, src, singleNodes(paxos.SingleConfig{Bugs: opts.Bugs, Learners: learners}, props))
	bounds := faultBounds(set, n)
	for i := range bounds.Fires {
		if i < props {
			bounds.Fires[i][paxos.TimerPropose] = uint8(set.Int("rounds"))
		}
		bounds.Fires[i][paxos.TimerLearn] = uint8(set.Int("learns"))
		// The deferred sync of bug no-persist: once per acceptor step at most.
		bounds.Fires[i][paxos.TimerSync] = 8
	}
	w.Untimed(bounds)
	if set.Int("collect") == 1 {
		w.CollectDead()
	} else {
		w.VerifyDeadLetters()
	}
	res.Trace = traceOf(w, opts)
	cw := &checkWorld[paxos.Msg, *checker.SingleDecree]{w: w, chk: checker.NewSingleDecree(n, values)}
	scratch := new(checker.SingleDecree)
	cw.checkerAfter = func(node sim.NodeID, stages sim.Stages[paxos.Msg]) (uint64, bool) {
		id := paxos.NodeID(node)
		known := true
		for i := 0; i < stages.Len() && known; i++ {
			st, _ := singleStateOf(stages.Node(i))
			known = cw.chk.Knows(id, st)
		}
		if known {
			return cw.checkerFingerprint(), true
		}
		sc := cw.chk.CopyInto(scratch)
		for i := 0; i < stages.Len(); i++ {
			st, _ := singleStateOf(stages.Node(i))
			if sc.Observe(id, int64(w.Now()), st) != nil {
				return 0, false
			}
		}
		return sc.Fingerprint(), true
	}
	cw.watchShared(func(mutable func() *checker.SingleDecree, id sim.NodeID) *checker.Violation {
		st, dec := singleStateOf(w.Node(id))
		ok := st.Decided
		if cw.chk.Knows(paxos.NodeID(id), st) {
			return nil
		}
		first := ok && !cw.chk.HasDecided(paxos.NodeID(id))
		v := mutable().Observe(paxos.NodeID(id), int64(w.Now()), st)
		if first && w.Tracing() {
			w.Note(func() string { return "n" + strconv.Itoa(int(id)) + " decided " + strconv.FormatInt(int64(dec), 10) })
		}
		return v
	})
	w.Note(func() string { return "plan " + res.Params })
	return cw, nil
}

// singleStateOf is what the single-decree checker reads of a node.
func singleStateOf(n sim.Node[paxos.Msg]) (checker.SingleState, paxos.Value) {
	node, _ := protocolOf[paxos.Msg, *paxos.Single](n)
	dec, ok := node.Decision()
	accB, accV := node.Accepted()
	return checker.SingleState{Promised: node.Promised(), AccBallot: accB, AccValue: accV, Decided: ok, Decision: dec}, dec
}

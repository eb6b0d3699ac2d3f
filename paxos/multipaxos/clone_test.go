package multipaxos

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/synod-sim/synod/paxos"
)

// The exhaustive search is only as sound as Clone and Fingerprint: a field
// Fingerprint misses lets the search merge two states that behave
// differently, and a field Clone shares lets a step of the copy change the
// state the search keeps. These tests drive replicas and clients through
// random schedules (loss, duplication, crashes, time passing) and check, at
// every state reached:
//
//   - a clone has the original's fingerprint and is deeply equal to it;
//   - stepping the clone in every way the node can step (each message in
//     flight to it, each armed timer) leaves the original's fingerprint and
//     its whole state unchanged;
//   - two states with one fingerprint are deeply equal (so no field that
//     differs between reachable states is left out of the hash).

// walk runs a random schedule on h and calls visit after every step. With
// frozen, time stands still, as in the exhaustive search's untimed view.
func walk(h *harness, rng *rand.Rand, steps int, frozen bool, visit func()) {
	n := len(h.nodes)
	for step := 0; step < steps; step++ {
		switch r := rng.IntN(100); {
		case r < 60 && len(h.queue) > 0:
			i := rng.IntN(len(h.queue))
			e := h.queue[i]
			switch k := rng.IntN(10); {
			case k == 0: // lost
				h.queue = slices.Delete(h.queue, i, i+1)
			case k == 1: // duplicated: stays in flight once more
				h.queue = append(h.queue, e)
				if h.nodes[e.to] != nil {
					h.nodes[e.to].Receive(e.from, e.m)
				}
			default:
				h.queue = slices.Delete(h.queue, i, i+1)
				if h.nodes[e.to] != nil {
					h.nodes[e.to].Receive(e.from, e.m)
				}
			}
		case r < 92:
			i := rng.IntN(n)
			t := paxos.TimerID(rng.IntN(2))
			if h.nodes[i] == nil || h.envs[i].timers[t] < 0 {
				continue
			}
			if !frozen {
				h.now = max(h.now, h.envs[i].timers[t]) + paxos.Time(rng.IntN(3))
			}
			h.fire(i, t)
		case r < 96:
			i := rng.IntN(h.replicas)
			if h.nodes[i] != nil {
				h.crash(i)
			}
		default:
			i := rng.IntN(h.replicas)
			if h.nodes[i] == nil {
				h.restart(i)
			}
		}
		visit()
	}
}

// sinkEnv is an environment for a clone: what the clone sends, arms and
// writes lands here, never in the original's harness.
func sinkEnv(t testing.TB, e *fakeEnv) *fakeEnv {
	sink := &harness{t: t, now: e.h.now, replicas: e.h.replicas, rng: rand.New(rand.NewPCG(7, 7)), envs: e.h.envs}
	c := &fakeEnv{h: sink, id: e.id, offset: e.offset, timers: e.timers}
	c.disk.recs, c.disk.synced = slices.Clone(e.disk.recs), e.disk.synced
	return c
}

// normalServer is a replica's state as the deep comparison sees it: the
// environment, the events an observer takes, empty-versus-nil slices and
// the fields of a role the replica does not have (Fingerprint says why
// those are dead) are no part of it.
func normalServer(s *Server) Server {
	c := *s.Clone(nil)
	c.env, c.events, c.self = nil, nil, nil
	// Pages and services are shared copy-on-write: compare private copies,
	// without the frozen flags.
	pages := make([]*page, len(c.pages))
	for i, p := range c.pages {
		pages[i] = &page{e: p.e}
	}
	c.pages, c.svc = pages, c.svc.Clone()
	c.queue = nilIfEmpty(c.queue)
	c.p1 = nilIfEmpty(c.p1)
	c.svc.sessions = nilIfEmpty(c.svc.sessions)
	if c.role != candidate {
		c.p1From, c.p1Acks, c.p1 = 0, 0, nil
	}
	if c.role != leader {
		c.next, c.readyAt, c.lastSend, c.sentCommit = 0, 0, 0, 0
		c.hb, c.hbNext, c.leaseFrom, c.leaseOK = [hbRing]hbRound{}, 0, 0, false
	}
	if c.role == follower {
		c.ballot = paxos.Ballot{}
	}
	for slot := Slot(1); slot <= c.top; slot++ {
		if e := c.at(slot); c.role != leader || e.accBallot != c.ballot || e.decided {
			e.acks, e.sentAt = 0, 0
		}
	}
	return c
}

func normalClient(c *Client) Client {
	d := *c.Clone(nil)
	d.env = nil
	d.calls = nilIfEmpty(d.calls)
	return d
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

type fingerprinter interface {
	Fingerprint() uint64
}

func TestCloneAndFingerprint(t *testing.T) {
	for _, bugs := range []paxos.Bugs{0, paxos.NoGapFill | paxos.SkipPhase1} {
		for seed := uint64(1); seed <= 12; seed++ {
			cfg := testConfig()
			cfg.Bugs = bugs
			replicas, frozen := 3, seed%4 < 2
			if seed%3 == 1 {
				replicas = 5
			}
			if seed%4 == 1 {
				cfg.Window = 1 // commands wait in the leader's queue
			}
			if seed%3 == 0 {
				cfg.Lease = Lease{Duration: 200 * paxos.Millisecond, DriftMaxPPM: 1000, SkewMax: paxos.Millisecond}
			}
			ccfg := ClientConfig{Workload: Workload{Ops: 4, Keys: 2, Locks: 1, Think: paxos.Millisecond}}
			if seed%2 == 0 {
				ccfg.Workload = Workload{Keys: 1, Commands: []Command{{Op: OpPut}, {Op: OpGet}, {Op: OpCAS, Old: "x"}}}
			}
			h := newHarness(t, replicas, 2, cfg, ccfg)
			h.rng = rand.New(rand.NewPCG(seed, 99))
			h.startAll()
			servers := map[[2]uint64]Server{} // by node and fingerprint: the id is no part of the hash
			clients := map[[2]uint64]Client{}
			rng := rand.New(rand.NewPCG(seed, 1))
			states := 0
			walk(h, rng, 400, frozen, func() {
				for i, nd := range h.nodes {
					if nd == nil {
						continue
					}
					checkClone(t, h, i, nd)
					states++
					switch nd := nd.(type) {
					case *Server:
						ns := normalServer(nd)
						key := [2]uint64{uint64(i), nd.Fingerprint()}
						if prev, ok := servers[key]; !ok {
							servers[key] = ns
						} else if !reflect.DeepEqual(prev, ns) {
							t.Fatalf("seed %d: two replica states share fingerprint %#x:\n%+v\n%+v", seed, nd.Fingerprint(), prev, ns)
						}
					case *Client:
						nc := normalClient(nd)
						key := [2]uint64{uint64(i), nd.Fingerprint()}
						if prev, ok := clients[key]; !ok {
							clients[key] = nc
						} else if !reflect.DeepEqual(prev, nc) {
							t.Fatalf("seed %d: two client states share fingerprint %#x:\n%+v\n%+v", seed, nd.Fingerprint(), prev, nc)
						}
					}
				}
			})
			if len(servers) < 30 || len(clients) < 4 {
				t.Fatalf("seed %d: the walk reached only %d replica and %d client states", seed, len(servers), len(clients))
			}
		}
	}
}

// checkClone clones node i of h and steps the clone in every way node i can
// step now, checking that the original does not change.
func checkClone(t *testing.T, h *harness, i int, nd node) {
	t.Helper()
	fp := nd.(fingerprinter).Fingerprint()
	var before any
	clone := func() (node, fingerprinter) {
		env := sinkEnv(t, h.envs[i])
		switch nd := nd.(type) {
		case *Server:
			before = normalServer(nd)
			c := nd.Clone(env)
			if !reflect.DeepEqual(normalServer(c), before) {
				t.Fatalf("node %d: the clone differs from the original", i)
			}
			return c, c
		case *Client:
			before = normalClient(nd)
			c := nd.Clone(env)
			if !reflect.DeepEqual(normalClient(c), before) {
				t.Fatalf("node %d: the clone differs from the original", i)
			}
			return c, c
		}
		panic("unknown node")
	}
	same := func(how string) {
		if got := nd.(fingerprinter).Fingerprint(); got != fp {
			t.Fatalf("node %d: stepping a clone (%s) changed the original's fingerprint", i, how)
		}
		var now any
		switch nd := nd.(type) {
		case *Server:
			now = normalServer(nd)
		case *Client:
			now = normalClient(nd)
		}
		if !reflect.DeepEqual(now, before) {
			t.Fatalf("node %d: stepping a clone (%s) changed the original", i, how)
		}
	}
	_, cf := clone()
	if cf.Fingerprint() != fp {
		t.Fatalf("node %d: the clone's fingerprint differs from the original's", i)
	}
	for _, e := range h.queue {
		if int(e.to) != i {
			continue
		}
		c, _ := clone()
		c.Receive(e.from, e.m)
		same("receive " + e.m.String())
	}
	for tm := paxos.TimerID(0); tm < 2; tm++ {
		if h.envs[i].timers[tm] >= 0 {
			c, _ := clone()
			c.Timeout(tm)
			same("timer")
		}
	}
	srv, ok := nd.(*Server)
	if !ok {
		return
	}
	// Pages and services are shared copy-on-write both ways: stepping a
	// replica after it was copied (a) leaves the copy (b) as it was; and a
	// copy into a discarded, stepped copy (CloneInto) is a full copy.
	var spare *Server
	steps := []func(*Server){}
	for _, e := range h.queue {
		if int(e.to) == i {
			steps = append(steps, func(x *Server) { x.Receive(e.from, e.m) })
		}
	}
	for tm := paxos.TimerID(0); tm < 2; tm++ {
		if h.envs[i].timers[tm] >= 0 {
			steps = append(steps, func(x *Server) { x.Timeout(tm) })
		}
	}
	for _, step := range steps {
		a := srv.CloneInto(sinkEnv(t, h.envs[i]), spare)
		if !reflect.DeepEqual(normalServer(a), before) || a.Fingerprint() != fp {
			t.Fatalf("node %d: CloneInto a spare differs from the original", i)
		}
		b := a.Clone(sinkEnv(t, h.envs[i]))
		step(a)
		if !reflect.DeepEqual(normalServer(b), before) || b.Fingerprint() != fp {
			t.Fatalf("node %d: stepping a replica changed an earlier copy of it", i)
		}
		spare = a
	}
}

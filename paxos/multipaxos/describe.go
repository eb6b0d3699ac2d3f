package multipaxos

import (
	"strconv"
	"strings"

	"github.com/synod-sim/synod/paxos"
)

// describeTail is how many of the newest log slots Describe lists: a
// reader's hover box, not a dump of the log.
const describeTail = 4

// Describe is the replica's state in one line: role and ballot, promise,
// leader belief, commit and applied indexes, and its newest log slots
// (slot:command@accepted-ballot, "!" when decided). Traces keep it after
// every step for simrun replay -state and the diagram.
func (s *Server) Describe() string {
	var b strings.Builder
	b.WriteString(s.role.String())
	if s.role != follower {
		b.WriteString(" b=" + s.ballot.String())
	}
	b.WriteString(" promised=" + s.promised.String())
	b.WriteString(" leader=")
	if s.leader < 0 {
		b.WriteString("?")
	} else {
		b.WriteString("n" + strconv.Itoa(int(s.leader)))
	}
	b.WriteString(" commit=" + strconv.FormatUint(uint64(s.commit), 10))
	b.WriteString(" applied=" + strconv.FormatUint(uint64(s.applied), 10))
	if s.role == leader {
		b.WriteString(" next=" + strconv.FormatUint(uint64(s.next), 10))
		if s.cfg.Lease.Duration > 0 {
			b.WriteString(" lease=" + strconv.FormatBool(s.leaseValid()))
		}
	}
	b.WriteString(" log=[")
	first := Slot(1)
	if s.top > describeTail {
		first = s.top - describeTail + 1
		b.WriteString("...")
	}
	for slot := first; slot <= s.top; slot++ {
		e := s.peek(slot)
		if slot > first || first > 1 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(uint64(slot), 10) + ":")
		if e.accBallot.IsZero() && !e.decided {
			b.WriteString("-")
			continue
		}
		b.WriteString(e.cmd.String())
		if !e.accBallot.IsZero() {
			b.WriteString("@" + e.accBallot.String())
		}
		if e.decided {
			b.WriteString("!")
		}
	}
	b.WriteString("]")
	return b.String()
}

// TimerName names a replica's timers in trace lines.
func (s *Server) TimerName(t paxos.TimerID) string {
	switch t {
	case timerElection:
		return "election"
	case timerHeartbeat:
		return "heartbeat"
	}
	return ""
}

// Describe is the client's state in one line: operations issued and
// returned, the one waiting, and the replica it talks to.
func (c *Client) Describe() string {
	returned := 0
	for _, call := range c.calls {
		if call.Returned {
			returned++
		}
	}
	var b strings.Builder
	b.WriteString("issued=" + strconv.Itoa(len(c.calls)) + " returned=" + strconv.Itoa(returned))
	if call, ok := c.Waiting(); ok {
		b.WriteString(" waiting=" + call.Cmd.String())
	}
	b.WriteString(" to=n" + strconv.Itoa(int(c.to)))
	return b.String()
}

// TimerName names a client's timers in trace lines.
func (c *Client) TimerName(t paxos.TimerID) string {
	switch t {
	case timerThink:
		return "think"
	case timerRetry:
		return "retry"
	}
	return ""
}

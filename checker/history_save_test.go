package checker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSavedHistoryRoundTripsAndKeepsItsVerdict(t *testing.T) {
	h := &History{}
	w := h.Call(0, 0, Put("x", "1"))
	h.Return(w, 10, Output{})
	r := h.Call(1, 20, Get("x"))
	h.Return(r, 30, Output{Value: "2"}) // nobody wrote 2: not linearizable
	h.Call(2, 25, Acquire("l", 2))      // never returned
	data, err := json.Marshal(h.Save("kv", "lock"))
	require.NoError(t, err)

	var saved SavedHistory
	require.NoError(t, json.Unmarshal(data, &saved))
	back, err := saved.Load()
	require.NoError(t, err)
	require.Equal(t, h.ops, back.ops)
	res := saved.Check(back, time.Second)
	require.Equal(t, LinIllegal, res.Verdict)
	require.Contains(t, res.Message, `"x"`)

	h2 := &History{}
	w = h2.Call(0, 0, Put("x", "2"))
	h2.Return(w, 10, Output{})
	r = h2.Call(1, 20, Get("x"))
	h2.Return(r, 30, Output{Value: "2"})
	require.Equal(t, LinOk, h2.Save("kv").Check(h2, time.Second).Verdict)
}

func TestSavedHistoryRefusesWhatCallAndReturnWould(t *testing.T) {
	ret := int64(5)
	for _, c := range []struct {
		saved SavedHistory
		want  string
	}{
		{SavedHistory{Models: []string{"queue"}}, "unknown model"},
		{SavedHistory{Ops: []SavedOp{{Kind: "frob"}}}, "unknown kind"},
		{SavedHistory{Ops: []SavedOp{{Kind: "get", Client: -1}}}, "bad client"},
		{SavedHistory{Ops: []SavedOp{{Kind: "get", Call: 9, Return: &ret, Out: (&SavedOp{}).Out}}}, "needs an output"},
	} {
		_, err := c.saved.Load()
		require.ErrorContains(t, err, c.want)
	}
}

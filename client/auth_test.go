package client_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

// brokerAuth is a two-step mechanism: the client sends "hello", the server
// challenges with "challenge", the client answers "answer", the server ends
// with "welcome".
type brokerAuth struct{}

func (brokerAuth) Methods() []string { return []string{"test-2step"} }
func (brokerAuth) Start(_ string, _ []byte, _ *broker.ConnectInfo, _ bool) (broker.AuthExchange, error) {
	return &brokerExchange{}, nil
}

type brokerExchange struct{ step int }

func (e *brokerExchange) Step(data []byte) ([]byte, bool, error) {
	e.step++
	switch {
	case e.step == 1 && string(data) == "hello":
		return []byte("challenge"), false, nil
	case e.step == 2 && string(data) == "answer":
		return []byte("welcome"), true, nil
	}
	return nil, false, packet.NotAuthorized
}

// clientAuth is the client side; answer is what it replies to the challenge.
type clientAuth struct {
	answer string
	mu     sync.Mutex
	log    []string
}

func (a *clientAuth) Method() string           { return "test-2step" }
func (a *clientAuth) Initial() ([]byte, error) { return []byte("hello"), nil }
func (a *clientAuth) Step(ch []byte) ([]byte, error) {
	a.mu.Lock()
	a.log = append(a.log, "step:"+string(ch))
	a.mu.Unlock()
	return []byte(a.answer), nil
}
func (a *clientAuth) Finish(data []byte) error {
	a.mu.Lock()
	a.log = append(a.log, "finish:"+string(data))
	a.mu.Unlock()
	if string(data) != "welcome" {
		return errors.New("server not proven")
	}
	return nil
}

func TestEnhancedAuth(t *testing.T) {
	addr := startBroker(t, func(o *broker.Options) { o.EnhancedAuth = brokerAuth{} })
	a := &clientAuth{answer: "answer"}
	c := dial(t, addr, &client.Options{ClientID: "auth", Auth: a})
	if err := c.Reauthenticate(testCtx(t)); err != nil {
		t.Fatalf("re-authentication: %v", err)
	}
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	got := a.log
	a.mu.Unlock()
	want := []string{"step:challenge", "finish:welcome", "step:challenge", "finish:welcome"}
	if len(got) != len(want) {
		t.Fatalf("auth log %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("auth log %q, want %q", got, want)
		}
	}

	_, err := client.Dial(testCtx(t), addr, &client.Options{ClientID: "bad", Auth: &clientAuth{answer: "wrong"}})
	if !errors.Is(err, packet.NotAuthorized) {
		t.Errorf("wrong answer: %v", err)
	}
}

package broker

import (
	"errors"
	"sync"

	"github.com/roostmq/roost/topic"
)

// Message is a message delivered to an in-process subscriber. Payload must
// not be modified.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Publish routes a message from the program that embeds the broker, as if a
// client had published it. After Shutdown it returns ErrServerClosed.
func (s *Server) Publish(name string, payload []byte, qos byte, retain bool) error {
	if err := topic.ValidName(name); err != nil {
		return err
	}
	if qos > 2 {
		return errors.New("broker: QoS must be 0, 1 or 2")
	}
	if !s.work.enter() {
		return ErrServerClosed // the store may be closed
	}
	defer s.work.leave()
	s.publishLocal(name, append([]byte(nil), payload...), qos, retain)
	return nil
}

// callSubscriber calls an in-process subscriber's fn and reports whether
// it returned without panicking.
func (s *Server) callSubscriber(fn func(Message), m Message) (ok bool) {
	defer s.contain("in-process subscriber")
	fn(m)
	return true
}

// Subscribe calls fn for every message matching filter until the returned
// function is called. Like a client subscription with retain handling 0, it
// first gets the retained messages matching filter (Retain set), unless
// filter is a shared subscription. fn runs on its own goroutine, one message
// at a time, in order; up to 1024 messages wait for it, beyond that they are
// dropped and counted.
func (s *Server) Subscribe(filter string, fn func(Message)) (unsubscribe func(), err error) {
	_, _, shared, err := topic.ParseShared(filter)
	if err != nil {
		return nil, err
	}
	ch := make(chan Message, 1024)
	ss := newSession(s, "$internal/"+newClientID())
	ss.local = func(name string, m *message) {
		ss.mu.Lock()
		defer ss.unlock()
		if ss.ended {
			return
		}
		select {
		case ch <- Message{Topic: name, Payload: m.payload, QoS: m.qos, Retain: m.retain}:
		default:
			ss.dropLocked(m, DropPendingFull)
		}
	}
	// Holding ss.mu until the retained messages are queued keeps live
	// messages (which ss.local queues under ss.mu) behind them.
	func() {
		ss.mu.Lock()
		defer ss.unlock()
		s.subs.Subscribe(ss, filter, topic.Options{QoS: 2})
		if !shared {
			for _, m := range s.matchRetained(filter) { // [MQTT-3.3.1-9]
				select {
				case ch <- Message{Topic: m.topic, Payload: m.payload, QoS: m.qos, Retain: true}:
				default:
					ss.dropLocked(m, DropPendingFull)
				}
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			if !s.callSubscriber(fn, m) {
				// fn panicked: this subscription gets nothing more; what
				// is queued is discarded until unsubscribe.
				ss.mu.Lock()
				ss.ended = true
				ss.mu.Unlock()
				for range ch {
				}
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.subs.Unsubscribe(ss, filter)
			ss.mu.Lock()
			ss.ended = true
			ss.mu.Unlock()
			close(ch)
			<-done
		})
	}, nil
}

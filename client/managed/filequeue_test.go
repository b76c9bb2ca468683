package managed_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/client/managed"
)

// Messages pushed to a FileQueue survive reopening (a program restart), in
// order and with their properties.
func TestFileQueueSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	q, err := managed.OpenFileQueue(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, topic := range []string{"a", "b", "c"} {
		m := &client.Message{Topic: topic, Payload: []byte{byte(i)}, QoS: byte(i % 3), Retain: i == 1}
		m.Properties.ResponseTopic = "reply"
		m.Properties.MessageExpiry = time.Minute
		m.Properties.UserProperties = []client.UserProperty{{Key: "k", Value: topic}}
		if err := q.Push(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Push(&client.Message{Topic: "d"}); err != managed.ErrQueueFull {
		t.Fatalf("push beyond max: %v", err)
	}
	if err := q.Pop(); err != nil {
		t.Fatal(err)
	}
	// A push interrupted before its rename is ignored on reopen.
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000099.msg.tmp"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err = managed.OpenFileQueue(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 2 {
		t.Fatalf("len %d after reopen", q.Len())
	}
	for i, want := range []string{"b", "c"} {
		m, err := q.Peek()
		if err != nil || m == nil {
			t.Fatalf("peek: %v", err)
		}
		if m.Topic != want || m.Payload[0] != byte(i+1) || m.Properties.ResponseTopic != "reply" ||
			m.Properties.MessageExpiry != time.Minute || m.Properties.UserProperties[0].Value != want {
			t.Fatalf("message %d: %+v", i, m)
		}
		if err := q.Pop(); err != nil {
			t.Fatal(err)
		}
	}
	if m, _ := q.Peek(); m != nil || q.Len() != 0 {
		t.Fatal("queue not empty")
	}
}

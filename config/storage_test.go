package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roostmq/roost/store"
)

func TestStorageSection(t *testing.T) {
	f, err := Parse([]byte("storage:\n  type: disk\n  dir: /var/lib/roost\n  sync: interval\n  sync_interval: 250ms\n  strict: true\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := StorageConfig{Type: StorageDisk, Dir: "/var/lib/roost", Sync: store.SyncInterval, SyncInterval: 250 * time.Millisecond, Strict: true}
	if f.Storage != want {
		t.Fatalf("got %+v, want %+v", f.Storage, want)
	}
	if got := Default().Storage; got != DefaultStorage() || got.Type != StorageDisk || got.Dir != "./data" || got.Sync != store.SyncAlways {
		t.Fatalf("default storage %+v", got)
	}
	for _, bad := range []string{"storage:\n  type: cloud\n", "storage:\n  sync: sometimes\n", "storage:\n  dir: \"\"\n",
		"storage:\n  sync_interval: 0s\n", "storage:\n  nope: 1\n"} {
		if _, err := Parse([]byte(bad), "x.yaml"); err == nil || !strings.Contains(err.Error(), "x.yaml:2: storage.") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The example documents every storage key.
func TestExampleHasStorageKeys(t *testing.T) {
	f, err := Load(filepath.Join("..", "roost.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Storage != DefaultStorage() {
		t.Fatalf("example storage %+v is not the default", f.Storage)
	}
	raw, err := os.ReadFile(filepath.Join("..", "roost.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data := string(raw)
	for _, key := range []string{"type", "dir", "sync", "sync_interval", "strict"} {
		if !strings.Contains(data, "\n  "+key+":") {
			t.Errorf("no key storage.%s in the example", key)
		}
	}
}

func TestOpenStore(t *testing.T) {
	s := DefaultStorage()
	s.Type = StorageMemory
	if st, err := s.OpenStore(store.DiskOptions{}); st != nil || err != nil {
		t.Fatalf("memory: %v %v", st, err)
	}
	s = DefaultStorage()
	s.Dir = t.TempDir()
	st, err := s.OpenStore(store.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Durable() {
		t.Fatal("disk store not durable")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

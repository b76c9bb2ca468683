package broker

import (
	"os"
	"testing"

	"github.com/roostmq/roost/store"
)

// testStore, when set, gives startServer its store: ROOST_TEST_STORE=durable
// runs the whole suite on store.NewMemoryDurable (every message record
// written, read back on resume), ROOST_TEST_STORE=disk on a Pebble store in
// a temporary directory.
var testStore func(t testing.TB) store.Store

func init() {
	switch os.Getenv("ROOST_TEST_STORE") {
	case "durable":
		testStore = func(testing.TB) store.Store { return store.NewMemoryDurable() }
	case "disk":
		testStore = func(t testing.TB) store.Store {
			d, err := store.OpenDisk(t.TempDir(), store.DiskOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
}

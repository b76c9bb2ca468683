package config

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/roostmq/roost/store"
)

// StorageType says where the broker keeps its state.
type StorageType string

// Storage types.
const (
	StorageDisk   StorageType = "disk"   // an embedded Pebble store in Storage.Dir
	StorageMemory StorageType = "memory" // nothing survives a restart
)

// StorageConfig is the storage: section of the file. The command opens the
// store (OpenStore) and sets broker.Options.Store.
type StorageConfig struct {
	Type         StorageType
	Dir          string
	Sync         store.SyncMode
	SyncInterval time.Duration
	Strict       bool
}

// DefaultStorage is the storage without a config file: a disk store in
// ./data that syncs before every acknowledgement.
func DefaultStorage() StorageConfig {
	return StorageConfig{Type: StorageDisk, Dir: "./data", Sync: store.SyncAlways, SyncInterval: 100 * time.Millisecond}
}

var syncModes = map[string]store.SyncMode{
	"always":   store.SyncAlways,
	"interval": store.SyncInterval,
	"never":    store.SyncNever,
}

func (d *decoder) storage(path string, n *yaml.Node, s *StorageConfig) {
	d.mapping(path, n, map[string]handler{
		"type": func(path string, n *yaml.Node) {
			if v, ok := d.choice(path, n, string(StorageDisk), string(StorageMemory)); ok {
				s.Type = StorageType(v)
			}
		},
		"dir": func(path string, n *yaml.Node) {
			if v, ok := d.stringValue(path, n); ok {
				if v == "" {
					d.fail(n, path, "must not be empty")
					return
				}
				s.Dir = v
			}
		},
		"sync": func(path string, n *yaml.Node) {
			if v, ok := d.choice(path, n, "always", "interval", "never"); ok {
				s.Sync = syncModes[v]
			}
		},
		"sync_interval": func(path string, n *yaml.Node) {
			d.durationField(&s.SyncInterval)(path, n)
			if s.SyncInterval <= 0 {
				d.fail(n, path, "must be positive")
			}
		},
		"strict": d.boolField(&s.Strict),
	})
}

// OpenStore opens the configured store: nil for memory (the broker then
// uses store.NewMemory, which keeps nothing).
func (s StorageConfig) OpenStore(opts store.DiskOptions) (store.Store, error) {
	if s.Type == StorageMemory {
		return nil, nil
	}
	opts.Sync, opts.SyncInterval, opts.Strict = s.Sync, s.SyncInterval, s.Strict
	return store.OpenDisk(s.Dir, opts)
}

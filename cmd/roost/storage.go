package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/roostmq/roost/config"
	"github.com/roostmq/roost/store"
)

// storageEnv, set to "memory" or "disk", replaces the default storage type
// when the config file leaves the storage: section at its defaults. The
// tests of this package set it to memory, so that brokers they start do not
// share ./data.
const storageEnv = "ROOST_STORAGE"

// openStore opens the configured store; nil means memory.
func openStore(f *config.File, log *slog.Logger) (store.Store, error) {
	sc := f.Storage
	if v := os.Getenv(storageEnv); v != "" && sc == config.DefaultStorage() {
		sc.Type = config.StorageType(v)
	}
	if sc.Type == config.StorageMemory {
		log.Info("storage: memory; nothing survives a restart")
		return nil, nil
	}
	st, err := sc.OpenStore(store.DiskOptions{Logger: log})
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
			abs, _ := filepath.Abs(sc.Dir)
			return nil, fmt.Errorf("another roost (or program) holds the store in %s: its lock file %s is taken; "+
				"stop that broker, or give this one its own storage.dir (--config)", abs, filepath.Join(abs, "LOCK"))
		}
		return nil, err
	}
	log.Info("storage: disk", "dir", sc.Dir, "sync", sc.Sync.String(), "strict", sc.Strict)
	if d, ok := st.(*store.Disk); ok {
		if p := d.Problems(); len(p) > 0 {
			log.Error("storage: the store was damaged; started with what could be read", "problems", len(p))
		}
	}
	return st, nil
}

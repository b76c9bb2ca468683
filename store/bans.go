package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Ban is a ban the broker keeps across restarts: one added at run time
// (through the admin API), not one from the config file.
type Ban struct {
	Kind  string    `json:"kind"` // client_id, username or ip
	Value string    `json:"value"`
	Until time.Time `json:"until,omitzero"` // zero: never expires
}

// BanStore is implemented by stores that keep the broker's run-time bans
// (Memory and Disk do). The list is small and changes rarely: it is saved
// whole.
type BanStore interface {
	// SaveBans replaces the stored bans with bans, durably.
	SaveBans(bans []Ban) error
	// LoadBans returns the stored bans; none is not an error.
	LoadBans() ([]Ban, error)
}

var (
	_ BanStore = (*Memory)(nil)
	_ BanStore = (*Disk)(nil)
)

// SaveBans implements BanStore.
func (m *Memory) SaveBans(bans []Ban) error {
	if !m.lock() {
		return m.closedErr()
	}
	m.bans = slices.Clone(bans)
	m.mu.Unlock()
	return nil
}

// LoadBans implements BanStore.
func (m *Memory) LoadBans() ([]Ban, error) {
	if !m.lock() {
		return nil, m.closedErr()
	}
	defer m.mu.Unlock()
	return slices.Clone(m.bans), nil
}

// bansKey is the one key of the ban list ('b', a prefix no other key has):
// its value is the JSON array of Ban.
var bansKey = []byte{'b'}

// SaveBans implements BanStore; it syncs whatever the sync mode, as bans
// are few and an operator expects one to hold once added.
func (d *Disk) SaveBans(bans []Ban) error {
	if !d.enter() {
		return ErrClosed
	}
	defer d.life.RUnlock()
	if bans == nil {
		bans = []Ban{}
	}
	v, err := json.Marshal(bans)
	if err != nil {
		return err
	}
	return d.db.Set(bansKey, v, pebble.Sync)
}

// LoadBans implements BanStore.
func (d *Disk) LoadBans() ([]Ban, error) {
	if !d.enter() {
		return nil, ErrClosed
	}
	defer d.life.RUnlock()
	v, closer, err := d.db.Get(bansKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	var out []Ban
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("store: the ban list is unreadable: %w", err)
	}
	return out, nil
}

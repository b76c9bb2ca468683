package store

import (
	"encoding/binary"
	"errors"
	"time"
)

// The on-disk encoding of records: a format byte, then fields as unsigned
// varints and length-prefixed byte strings. A value that does not decode is
// reported as corrupt (errCorrupt) and skipped, or refused in strict mode.

const (
	fmtSession byte = 1
	fmtMessage byte = 1
	fmtRecord  byte = 1
)

var errCorrupt = errors.New("undecodable record")

type enc struct{ b []byte }

func (e *enc) u(v uint64)    { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) s(v string)    { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) bs(v []byte)   { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) t(v time.Time) { e.u(timeNanos(v)) }
func (e *enc) flag(v bool)   { e.b = append(e.b, boolByte(v)) }
func (e *enc) i(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) byte1(v byte)  { e.b = append(e.b, v) }
func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func timeNanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

type dec struct {
	b   []byte
	err bool
}

func (d *dec) u() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) i() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) bs() []byte {
	n := d.u()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		d.b = nil
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

func (d *dec) s() string { return string(d.bs()) }

func (d *dec) byte1() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) flag() bool {
	v := d.byte1()
	if v > 1 {
		d.err = true
	}
	return v == 1
}

func (d *dec) t() time.Time {
	v := d.u()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v))
}

func (d *dec) done() error {
	if d.err || len(d.b) != 0 {
		return errCorrupt
	}
	return nil
}

func (e *enc) message(m *Message) {
	e.byte1(fmtMessage)
	e.s(m.Topic)
	e.bs(m.Payload)
	e.byte1(m.QoS)
	e.flag(m.Retain)
	e.bs(m.Props)
	e.t(m.Created)
	e.t(m.Expiry)
}

func (d *dec) message() *Message {
	if d.byte1() != fmtMessage {
		d.err = true
		return nil
	}
	m := &Message{Topic: d.s(), Payload: d.bs(), QoS: d.byte1(), Retain: d.flag(), Props: d.bs(), Created: d.t(), Expiry: d.t()}
	if m.QoS > 2 {
		d.err = true
	}
	if len(m.Payload) == 0 {
		m.Payload = nil
	}
	if len(m.Props) == 0 {
		m.Props = nil
	}
	return m
}

func encodeMessage(m *Message) []byte {
	var e enc
	e.message(m)
	return e.b
}

func decodeMessage(b []byte) (*Message, error) {
	d := dec{b: b}
	m := d.message()
	return m, d.done()
}

func encodeSession(s *Session) []byte {
	var e enc
	e.byte1(fmtSession)
	e.s(s.ClientID)
	e.byte1(s.Version)
	e.u(s.Epoch)
	e.i(int64(s.Expiry))
	e.t(s.DisconnectedAt)
	e.u(uint64(len(s.Subscriptions)))
	for _, sub := range s.Subscriptions {
		e.s(sub.Filter)
		e.byte1(sub.QoS)
		e.flag(sub.NoLocal)
		e.flag(sub.RetainAsPublished)
		e.byte1(sub.RetainHandling)
		e.u(uint64(sub.ID))
	}
	e.flag(s.Will != nil)
	if s.Will != nil {
		e.message(s.Will)
		e.i(int64(s.WillDelay))
	}
	e.s(s.Username) // added later: absent in older records
	return e.b
}

func decodeSession(b []byte) (*Session, error) {
	d := dec{b: b}
	if d.byte1() != fmtSession {
		return nil, errCorrupt
	}
	s := &Session{ClientID: d.s(), Version: d.byte1(), Epoch: d.u(), Expiry: time.Duration(d.i()), DisconnectedAt: d.t()}
	n := d.u()
	if n > uint64(len(d.b)) {
		return nil, errCorrupt
	}
	for range n {
		s.Subscriptions = append(s.Subscriptions, Subscription{Filter: d.s(), QoS: d.byte1(), NoLocal: d.flag(),
			RetainAsPublished: d.flag(), RetainHandling: d.byte1(), ID: uint32(d.u())})
	}
	if d.flag() {
		s.Will = d.message()
		s.WillDelay = time.Duration(d.i())
	}
	if len(d.b) > 0 {
		s.Username = d.s()
	}
	return s, d.done()
}

func encodeRecord(r *Record) []byte {
	var e enc
	e.byte1(fmtRecord)
	e.u(uint64(r.PacketID))
	e.flag(r.Released)
	e.byte1(r.QoS)
	e.flag(r.Retain)
	e.u(uint64(len(r.SubIDs)))
	for _, id := range r.SubIDs {
		e.u(uint64(id))
	}
	e.s(r.Group)
	e.s(r.Filter)
	e.flag(r.Msg != nil)
	if r.Msg != nil {
		e.message(r.Msg)
	}
	return e.b
}

func decodeRecord(seq uint64, b []byte) (*Record, error) {
	d := dec{b: b}
	if d.byte1() != fmtRecord {
		return nil, errCorrupt
	}
	r := &Record{Seq: seq}
	id := d.u()
	r.Released, r.QoS, r.Retain = d.flag(), d.byte1(), d.flag()
	n := d.u()
	if id > 0xFFFF || n > uint64(len(d.b)) || r.QoS == 0 || r.QoS > 2 {
		return nil, errCorrupt
	}
	r.PacketID = uint16(id)
	for range n {
		r.SubIDs = append(r.SubIDs, uint32(d.u()))
	}
	r.Group, r.Filter = d.s(), d.s()
	if d.flag() {
		r.Msg = d.message()
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	if r.Msg == nil && !r.Released {
		return nil, errCorrupt
	}
	return r, nil
}

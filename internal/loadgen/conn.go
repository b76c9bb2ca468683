package loadgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

// headerSize is the part of each payload the generator uses: publisher
// index (4 bytes), sequence number (8) and send time in Unix nanoseconds (8).
const headerSize = 20

// mconn is a minimal MQTT client connection for load generation.
type mconn struct {
	nc  net.Conn
	r   *packet.Reader
	v   packet.Version
	wmu sync.Mutex // guards nc writes and wbuf
	buf []byte
}

// dial connects and completes CONNECT/CONNACK; persistent asks for a
// session that outlives the connection.
func dial(ctx context.Context, cfg *Config, id string, src string, persistent bool) (*mconn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	var nc net.Conn
	var err error
	if cfg.URL != "" {
		nc, err = client.DialTransport(ctx, cfg.URL, &client.Options{Dialer: &d, TLSConfig: cfg.TLS})
	} else {
		nc, err = d.DialContext(ctx, "tcp", cfg.Addr)
	}
	if err != nil {
		return nil, err
	}
	c := &mconn{nc: nc, r: packet.NewReader(nc, 64<<10, 0), v: cfg.Version}
	conn := &packet.Connect{Version: cfg.Version, ClientID: []byte(id), CleanStart: !persistent, KeepAlive: cfg.KeepAlive}
	if cfg.Username != "" {
		conn.UsernameFlag, conn.Username = true, []byte(cfg.Username)
	}
	if cfg.Password != "" {
		conn.PasswordFlag, conn.Password = true, []byte(cfg.Password)
	}
	if cfg.Version == packet.V5 {
		conn.Properties.ReceiveMaximum = 65535
		conn.Properties.Set(packet.PropReceiveMaximum)
		if persistent {
			// A new session all the same: clean start, kept after the connection.
			conn.CleanStart = true
			conn.Properties.SessionExpiry = 3600
			conn.Properties.Set(packet.PropSessionExpiry)
		}
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(conn.Append(nil, cfg.Version)); err != nil {
		nc.Close()
		return nil, err
	}
	first, body, err := c.r.Read()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("waiting for CONNACK: %w", err)
	}
	var ack packet.Connack
	if err := packet.DecodeInto(&ack, first, body, cfg.Version); err != nil {
		nc.Close()
		return nil, err
	}
	if ack.ReasonCode != 0 {
		nc.Close()
		return nil, fmt.Errorf("connection refused: %v", ack.ReasonCode)
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// write sends one packet now.
func (c *mconn) write(p packet.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf = p.Append(c.buf[:0], c.v)
	_, err := c.nc.Write(c.buf)
	return err
}

// subscribe sends SUBSCRIBE and waits for SUBACK.
func (c *mconn) subscribe(filter string, qos byte) error {
	s := &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: []byte(filter), QoS: qos}}}
	if err := c.write(s); err != nil {
		return err
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		first, body, err := c.r.Read()
		if err != nil {
			return err
		}
		if packet.Type(first>>4) != packet.SUBACK {
			continue
		}
		var ack packet.Suback
		if err := packet.DecodeInto(&ack, first, body, c.v); err != nil {
			return err
		}
		if len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] > 2 {
			return fmt.Errorf("subscription to %q refused: %v", filter, ack.ReasonCodes)
		}
		return nil
	}
}

func (c *mconn) close() {
	_ = c.write(&packet.Disconnect{})
	_ = c.nc.Close()
}

// stamp writes the payload header.
func stamp(p []byte, pub uint32, seq uint64, now time.Time) {
	binary.BigEndian.PutUint32(p[0:], pub)
	binary.BigEndian.PutUint64(p[4:], seq)
	binary.BigEndian.PutUint64(p[12:], uint64(now.UnixNano()))
}

// unstamp reads it back.
func unstamp(p []byte) (pub uint32, seq uint64, sent int64, ok bool) {
	if len(p) < headerSize {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint32(p[0:]), binary.BigEndian.Uint64(p[4:]), int64(binary.BigEndian.Uint64(p[12:])), true
}

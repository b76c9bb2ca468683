package broker

import (
	"errors"
	"net"
	"time"
)

// Lingering after a reason. When the broker closes a connection with a
// reason the client should read (a DISCONNECT with a reason code, a
// refusing CONNACK), the client may still be sending: acknowledgements,
// its next PUBLISHes. Closing a socket with unread bytes resets it, and
// the client then sees ECONNRESET or EPIPE instead of the reason. So once
// the writer has flushed and half-closed (CloseWrite), the reader reads
// and discards what still comes until the client closes, lingerBytes have
// come or lingerTime has passed, and only then closes. It runs on the
// reader goroutine, which is ending anyway, with a small buffer: a
// hostile client holds nothing more than its connection, for lingerTime.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 1 << 20
)

// linger drains the read side after the write side was half-closed; it
// returns at once for a connection that cannot half-close.
func (c *conn) linger() {
	if _, ok := c.nc.(interface{ CloseWrite() error }); !ok {
		return // the writer closed nothing: the reason may still be in flight
	}
	deadline := time.Now().Add(lingerTime)
	_ = c.nc.SetReadDeadline(deadline)
	var buf [512]byte
	for n := 0; n < lingerBytes; {
		k, err := c.nc.Read(buf[:])
		n += k
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Now().Before(deadline) {
				// The hibernation sweeper's request, not our deadline.
				_ = c.nc.SetReadDeadline(deadline)
				continue
			}
			return
		}
	}
}

package listener

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// wsStream is a server-side WebSocket connection seen as a byte stream
// (MQTT 5.0 section 6): the payloads of binary frames, in order, whatever
// the framing. It deframes in place, inside the caller's read buffer, so an
// idle connection holds no buffer of its own: a few hundred bytes of state.
// Text frames close the connection [MQTT-6.0.0-1]; pings are answered; a
// close frame is echoed and ends the stream.
//
// Pongs and close frames come from the reader, data frames from the writer.
// The reader never waits for the writer: it hands a control frame over in
// a small slot (ctl) and writes it itself only when no frame is being
// written (TryLock). Otherwise whoever holds wmu writes it after its frame,
// and checks the slot again after unlocking, so a frame handed over while
// it held the lock is not left behind.
type wsStream struct {
	net.Conn // the hijacked TCP (or TLS) connection

	// Reader state (one reader at a time, as for any net.Conn).
	remaining int64   // payload bytes left in the current data frame
	mask      [4]byte // current frame's masking key
	maskPos   int     // offset into the mask for the next payload byte
	ctrlOp    byte    // opcode of a control frame being read (0: none)
	ctrlLeft  int     // its payload bytes still to read
	ctrl      [125]byte
	ctrlN     int
	carry     [14]byte // a frame header split across reads
	carryN    int
	pend      [32]byte // deframed bytes that did not fit a small caller buffer
	pendOff   int
	pendN     int
	pre       []byte // bytes the HTTP server had buffered past the handshake
	readErr   error  // to return once the bytes read with it are delivered
	closed    bool   // a close frame arrived

	wmu sync.Mutex // serialises frames written (data, pong, close)
	hdr [10]byte   // guarded by wmu

	// Control frames handed from the reader to whoever writes next.
	ctlHas   atomic.Bool  // a frame waits in the slot
	ctlMu    sync.Mutex   // guards the slot; never held while writing
	pong     [125]byte    // guarded by ctlMu: payload of the pong to send
	closeMsg [2 + 32]byte // guarded by ctlMu: body of the close frame to send
	pongN    uint8        // guarded by ctlMu
	closeN   uint8        // guarded by ctlMu
	hasPong  bool         // guarded by ctlMu
	hasClose bool         // guarded by ctlMu

	// The writer's deadline, kept so that a control frame the reader writes
	// under its own deadline can put it back.
	dlMu sync.Mutex // guards wdl and every deadline set on Conn for writing
	wdl  time.Time  // guarded by dlMu
}

// wsControlTimeout bounds a control frame the reader writes itself (no
// frame being written when it came): beyond it the client is not reading
// and the connection is closed.
const wsControlTimeout = 10 * time.Second

var errWSText = errors.New("websocket: text frame; MQTT needs binary frames")

// SyscallConn returns the socket beneath the stream when it is a plain
// socket (not TLS), for hibernation.
func (s *wsStream) SyscallConn() (syscall.RawConn, error) { return socketOf(s.Conn) }

// Quiet reports whether the stream holds no bytes read from the socket
// that Read has not returned: nothing deframed and waiting, nothing the
// HTTP server buffered, no pending error or close. A partial frame header
// or frame is state, not bytes waiting, and survives hibernation. Reader
// only.
func (s *wsStream) Quiet() bool {
	return s.pendN == 0 && len(s.pre) == 0 && s.readErr == nil && !s.closed
}

// Read implements net.Conn.
func (s *wsStream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.pendN > 0 {
		n := copy(p, s.pend[s.pendOff:s.pendOff+s.pendN])
		s.pendOff += n
		s.pendN -= n
		return n, nil
	}
	for {
		if s.closed {
			return 0, io.EOF
		}
		if s.readErr != nil {
			err := s.readErr
			s.readErr = nil
			return 0, err
		}
		var n int
		var err error
		if len(p) < len(s.pend) {
			n, err = s.readInto(s.pend[:])
			s.pendOff, s.pendN = 0, n
			if n > 0 {
				return s.Read(p)
			}
		} else {
			n, err = s.readInto(p)
		}
		if n > 0 {
			s.readErr = err
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// readInto reads once from the connection into buf (after any carried
// header bytes) and deframes in place; it returns the payload bytes now at
// the start of buf.
func (s *wsStream) readInto(buf []byte) (int, error) {
	c := copy(buf, s.carry[:s.carryN])
	s.carryN = 0
	var m int
	var err error
	if len(s.pre) > 0 {
		m = copy(buf[c:], s.pre)
		s.pre = s.pre[m:]
	} else {
		m, err = s.Conn.Read(buf[c:])
	}
	total := c + m
	w, derr := s.deframe(buf[:total])
	if derr != nil {
		return w, derr
	}
	return w, err
}

// deframe walks the frames in b, moving payload bytes of data frames to the
// front (unmasked) and handling control frames; a partial header at the end
// is carried to the next read.
func (s *wsStream) deframe(b []byte) (int, error) {
	w, i := 0, 0
	for i < len(b) {
		switch {
		case s.remaining > 0:
			k := int(min(s.remaining, int64(len(b)-i)))
			copy(b[w:], b[i:i+k])
			unmask(b[w:w+k], s.mask, s.maskPos)
			s.maskPos = (s.maskPos + k) & 3
			s.remaining -= int64(k)
			w, i = w+k, i+k
		case s.ctrlLeft > 0:
			k := min(s.ctrlLeft, len(b)-i)
			copy(s.ctrl[s.ctrlN:], b[i:i+k])
			unmask(s.ctrl[s.ctrlN:s.ctrlN+k], s.mask, s.maskPos)
			s.maskPos = (s.maskPos + k) & 3
			s.ctrlN += k
			s.ctrlLeft -= k
			i += k
			if s.ctrlLeft == 0 {
				if err := s.control(); err != nil {
					return w, err
				}
			}
		default:
			used, err := s.header(b[i:])
			if err != nil {
				return w, err
			}
			if used == 0 { // incomplete header: keep it for the next read
				s.carryN = copy(s.carry[:], b[i:])
				return w, nil
			}
			i += used
			if s.ctrlOp != 0 && s.ctrlLeft == 0 {
				if err := s.control(); err != nil {
					return w, err
				}
			}
		}
	}
	return w, nil
}

// header parses one frame header at the start of b; 0 means incomplete.
func (s *wsStream) header(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	op, masked, l := b[0]&0x0f, b[1]&0x80 != 0, int64(b[1]&0x7f)
	n := 2
	switch l {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if masked {
		n += 4
	}
	if len(b) < n {
		return 0, nil
	}
	switch l {
	case 126:
		l = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		l = int64(binary.BigEndian.Uint64(b[2:]))
	}
	if b[0]&0x70 != 0 || !masked || l < 0 {
		// No extension was negotiated; clients must mask (RFC 6455 5.1).
		return 0, s.fail(1002, "protocol error")
	}
	copy(s.mask[:], b[n-4:n])
	s.maskPos = 0
	switch op {
	case 0x0, 0x2: // continuation, binary
		s.remaining = l
	case 0x1:
		return 0, s.fail(1003, "binary frames only") // [MQTT-6.0.0-1]
	case 0x8, 0x9, 0xA: // close, ping, pong
		if l > 125 || b[0]&0x80 == 0 {
			return 0, s.fail(1002, "bad control frame")
		}
		s.ctrlOp, s.ctrlLeft, s.ctrlN = op, int(l), 0
	default:
		return 0, s.fail(1002, "unknown opcode")
	}
	return n, nil
}

// control handles a complete control frame.
func (s *wsStream) control() error {
	op := s.ctrlOp
	s.ctrlOp = 0
	switch op {
	case 0x9: // ping: answer with the same payload
		return s.sendControl(0xA, s.ctrl[:s.ctrlN])
	case 0x8: // close: echo the status code, then end the stream
		s.closed = true
		var body []byte
		if s.ctrlN >= 2 {
			body = s.ctrl[:2]
		}
		_ = s.sendControl(0x8, body)
		return io.EOF
	}
	return nil // pong
}

// fail sends a close frame with code and returns the error that ends the
// stream.
func (s *wsStream) fail(code uint16, reason string) error {
	var body [2 + 32]byte
	binary.BigEndian.PutUint16(body[:], code)
	n := 2 + copy(body[2:], reason)
	_ = s.sendControl(0x8, body[:n])
	s.closed = true
	if code == 1003 {
		return errWSText
	}
	return errors.New("websocket: " + reason)
}

// Write implements net.Conn: p goes out as one binary frame, header and
// payload in one vectored write, then any control frame the reader handed
// over meanwhile.
func (s *wsStream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	err := s.writeFrameLocked(0x2, p)
	if err == nil && s.ctlHas.Load() {
		err = s.flushControlLocked()
	}
	s.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	if s.ctlHas.Load() { // handed over after the check above
		if err := s.tryFlushControl(false); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// SetWriteDeadline implements net.Conn: the deadline of the writer's data
// frames, which a control frame written by the reader does not disturb.
func (s *wsStream) SetWriteDeadline(t time.Time) error {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	s.wdl = t
	return s.Conn.SetWriteDeadline(t)
}

// SetDeadline implements net.Conn.
func (s *wsStream) SetDeadline(t time.Time) error {
	if err := s.SetWriteDeadline(t); err != nil {
		return err
	}
	return s.Conn.SetReadDeadline(t)
}

// sendControl queues a pong (op 0xA) or close (0x8) frame with payload p,
// replacing a pong not yet sent (RFC 6455 5.5.3 lets the last ping alone
// be answered), and writes it at once unless a frame is being written
// (reader only). It never waits for the writer.
func (s *wsStream) sendControl(op byte, p []byte) error {
	s.ctlMu.Lock()
	if op == 0xA {
		s.pongN, s.hasPong = uint8(copy(s.pong[:], p)), true
	} else {
		s.closeN, s.hasClose = uint8(copy(s.closeMsg[:], p)), true
	}
	s.ctlHas.Store(true)
	s.ctlMu.Unlock()
	return s.tryFlushControl(true)
}

// tryFlushControl writes the queued control frames if no one is writing;
// if someone is, it will (it checks again after unlocking). reader: the
// caller is the reader, whose write gets its own deadline.
func (s *wsStream) tryFlushControl(reader bool) error {
	for s.ctlHas.Load() {
		if !s.wmu.TryLock() {
			return nil
		}
		var err error
		if reader {
			s.dlMu.Lock()
			_ = s.Conn.SetWriteDeadline(time.Now().Add(wsControlTimeout))
			s.dlMu.Unlock()
		}
		err = s.flushControlLocked()
		if reader {
			s.dlMu.Lock()
			_ = s.Conn.SetWriteDeadline(s.wdl)
			s.dlMu.Unlock()
		}
		s.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// flushControlLocked writes the queued control frames, pong first. Caller
// holds wmu.
func (s *wsStream) flushControlLocked() error {
	var pong [125]byte
	var closeMsg [2 + 32]byte
	s.ctlMu.Lock()
	hasPong, hasClose := s.hasPong, s.hasClose
	pn := copy(pong[:], s.pong[:s.pongN])
	cn := copy(closeMsg[:], s.closeMsg[:s.closeN])
	s.hasPong, s.hasClose = false, false
	s.ctlHas.Store(false)
	s.ctlMu.Unlock()
	if hasPong {
		if err := s.writeFrameLocked(0xA, pong[:pn]); err != nil {
			return err
		}
	}
	if hasClose {
		return s.writeFrameLocked(0x8, closeMsg[:cn])
	}
	return nil
}

// writeFrameLocked writes one frame. Caller holds wmu.
func (s *wsStream) writeFrameLocked(op byte, p []byte) error {
	h := s.hdr[:2]
	h[0] = 0x80 | op
	switch n := len(p); {
	case n < 126:
		h[1] = byte(n)
	case n <= 0xffff:
		h[1] = 126
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h[1] = 127
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	bufs := net.Buffers{h, p}
	_, err := bufs.WriteTo(s.Conn)
	return err
}

// unmask applies the masking key, starting at offset pos of the key, eight
// bytes at a time.
func unmask(b []byte, mask [4]byte, pos int) {
	var k [8]byte
	for i := range k {
		k[i] = mask[(pos+i)&3]
	}
	key := binary.LittleEndian.Uint64(k[:])
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^key)
	}
	for ; i < len(b); i++ {
		b[i] ^= k[i&7]
	}
}

// selectSubprotocol picks the first subprotocol Roost speaks from those the
// client offers, or "".
func selectSubprotocol(r *http.Request) string {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			p = strings.TrimSpace(p)
			if slices.Contains(wsSubprotocols, p) {
				return p
			}
		}
	}
	return ""
}

// acceptWebSocket completes the RFC 6455 opening handshake and hijacks the
// connection. Compression is never negotiated.
func acceptWebSocket(w http.ResponseWriter, r *http.Request, proto string) (*wsStream, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	switch {
	case r.Method != http.MethodGet:
		http.Error(w, "WebSocket upgrade needs GET", http.StatusMethodNotAllowed)
		return nil, errors.New("method " + r.Method)
	case !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"):
		http.Error(w, "WebSocket upgrade required", http.StatusUpgradeRequired)
		return nil, errors.New("not an upgrade request")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "WebSocket version 13 required", http.StatusBadRequest)
		return nil, errors.New("unsupported WebSocket version")
	case len(key) != 24:
		http.Error(w, "bad Sec-WebSocket-Key", http.StatusBadRequest)
		return nil, errors.New("bad Sec-WebSocket-Key")
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot upgrade", http.StatusInternalServerError)
		return nil, err
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n" +
		"Sec-WebSocket-Protocol: " + proto + "\r\n\r\n"
	_ = conn.SetDeadline(time.Time{}) // the HTTP server's timeouts no longer apply
	if _, err := conn.Write([]byte(resp)); err != nil {
		conn.Close()
		return nil, err
	}
	s := &wsStream{Conn: conn}
	if n := brw.Reader.Buffered(); n > 0 {
		s.pre, _ = brw.Reader.Peek(n)
		s.pre = append([]byte(nil), s.pre...)
	}
	return s, nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

package packet

import (
	"errors"
	"io"
)

// MaxPacketSize is the largest packet the protocol can express: a first byte,
// a four-byte remaining length and 268,435,455 bytes of body.
const MaxPacketSize = 1 + 4 + MaxVarint

// Split finds one packet at the start of b. It returns the first byte of the
// fixed header, the body (aliasing b) and the whole packet's length. A strict
// prefix of a packet yields ErrIncomplete. When maxSize > 0 a packet whose
// declared size exceeds it yields PacketTooLarge as soon as the remaining
// length has been read, before any of the body is needed.
func Split(b []byte, maxSize int) (first byte, body []byte, n int, err error) {
	if len(b) < 2 {
		return 0, nil, 0, ErrIncomplete
	}
	rl, vn, err := ReadVarint(b[1:])
	if err != nil {
		return 0, nil, 0, err
	}
	total := 1 + vn + int(rl)
	if maxSize > 0 && total > maxSize {
		return 0, nil, 0, errorf(PacketTooLarge, "packet of %d bytes exceeds the maximum of %d", total, maxSize)
	}
	if len(b) < total {
		return 0, nil, 0, ErrIncomplete
	}
	return b[0], b[1+vn : total : total], total, nil
}

// Reader reads one packet at a time from a stream. Its buffer grows only as
// data actually arrives, so a peer that merely claims a huge packet costs
// nothing until it sends the bytes, and a claim beyond MaxSize fails at once.
type Reader struct {
	src        io.Reader
	buf        []byte
	start, end int
	minBuf     int
	hungry     bool // the last read filled all the free space: more is likely waiting
	lean       int  // consecutive reads that used under an eighth of the free space
	// MaxSize is the largest packet accepted, header included; 0 means the
	// protocol maximum.
	MaxSize int
	// ReadAhead, when larger than the initial buffer, lets the buffer grow
	// (doubling, up to ReadAhead bytes) while reads keep filling it, so a
	// busy stream takes many packets per read; after shrinkAfter reads
	// that use little of it, an empty buffer goes back to the initial size.
	// 0: the buffer grows only to fit a packet.
	ReadAhead int
}

// shrinkAfter is how many consecutive small reads return a grown buffer to
// its initial size.
const shrinkAfter = 64

// NewReader returns a Reader over src with an initial buffer of bufSize bytes
// (allocated on first use) and the given maximum packet size.
func NewReader(src io.Reader, bufSize, maxSize int) *Reader {
	if bufSize < 16 {
		bufSize = 16
	}
	return &Reader{src: src, minBuf: bufSize, MaxSize: maxSize}
}

// Read returns the next packet's first byte and body. The body aliases the
// Reader's buffer and is valid only until the next call to Read or Release.
// A stream that ends between packets returns io.EOF; one that ends inside a
// packet returns io.ErrUnexpectedEOF.
func (r *Reader) Read() (first byte, body []byte, err error) {
	max := r.maxSize()
	for {
		first, body, n, err := Split(r.buf[r.start:r.end], max)
		if err == nil {
			r.start += n
			return first, body, nil
		}
		if err != ErrIncomplete {
			return 0, nil, err
		}
		if err := r.fill(); err != nil {
			if errors.Is(err, io.EOF) && r.end > r.start {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
}

// Header reads until the fixed header of the next packet is buffered and
// returns its first byte and the packet's declared size, header included,
// without waiting for its body, so a caller can refuse a packet by its type
// or size before buffering it. The following Read returns that packet. The
// first byte alone is returned, with size 0 and err nil, when it arrives
// before the rest of the header and check refuses it (check may be nil).
func (r *Reader) Header(check func(first byte) bool) (first byte, size int, err error) {
	for {
		if b := r.buf[r.start:r.end]; len(b) > 0 {
			if check != nil && !check(b[0]) {
				return b[0], 0, nil
			}
			if len(b) >= 2 {
				rl, vn, err := ReadVarint(b[1:])
				if err == nil {
					return b[0], 1 + vn + int(rl), nil
				}
				if err != ErrIncomplete {
					return 0, 0, err
				}
			}
		}
		if err := r.fill(); err != nil {
			if errors.Is(err, io.EOF) && r.end > r.start {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, err
		}
	}
}

func (r *Reader) maxSize() int {
	if r.MaxSize <= 0 {
		return MaxPacketSize
	}
	return r.MaxSize
}

// Buffered reports how many bytes are already read from the stream but not yet
// returned, whether or not they make a whole packet.
func (r *Reader) Buffered() int { return r.end - r.start }

// Ready reports whether Read returns without reading from the source: a
// whole packet is buffered, or bytes that Read will refuse (a malformed or
// too large header). When it is false, Read blocks until the source has
// more, so a caller with work that must not wait (waking writers) does it
// first, even when part of a packet is buffered.
func (r *Reader) Ready() bool {
	if r.start == r.end {
		return false
	}
	_, _, _, err := Split(r.buf[r.start:r.end], r.maxSize())
	return err != ErrIncomplete
}

// Release drops the buffer when it holds no partial packet, so an idle
// connection keeps no read memory. It reports whether it did.
func (r *Reader) Release() bool {
	if r.start != r.end {
		return false
	}
	r.buf, r.start, r.end = nil, 0, 0
	r.hungry, r.lean = false, 0
	return true
}

// resize moves the buffered bytes to a new buffer of size bytes.
func (r *Reader) resize(size int) {
	nb := make([]byte, size)
	copy(nb, r.buf[:r.end])
	r.buf = nb
}

// fill makes room and reads once from the source.
func (r *Reader) fill() error {
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	switch {
	case r.end == len(r.buf):
		r.resize(max(2*len(r.buf), r.minBuf)) // room for the rest of a packet
	case r.hungry && len(r.buf) < r.ReadAhead:
		r.resize(min(2*len(r.buf), r.ReadAhead))
	case r.end == 0 && r.lean >= shrinkAfter && len(r.buf) > r.minBuf:
		r.buf, r.lean = nil, 0
		r.resize(r.minBuf)
	}
	for range 100 {
		free := len(r.buf) - r.end
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if n > 0 {
			r.hungry = n == free
			if n < free/8 {
				r.lean++
			} else {
				r.lean = 0
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

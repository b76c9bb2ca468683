//go:build linux

package broker

import (
	"errors"
	"syscall"
)

// poller watches hibernating sockets with an epoll instance of its own,
// beside the Go runtime's: each socket is registered once (one-shot) for
// readability, peer shutdown and errors. A pipe wakes the waiter to close.
type poller struct {
	epfd int
	pipe [2]int
}

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: epfd}
	if err := syscall.Pipe2(p.pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.pipe[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.pipe[0], &ev); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// add registers the socket and returns its descriptor.
func (p *poller) add(rc syscall.RawConn) (int32, error) {
	var fd int32
	var cerr error
	err := rc.Control(func(s uintptr) {
		fd = int32(s)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: fd}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(s), &ev)
	})
	return fd, errors.Join(err, cerr)
}

// del removes a socket that is still open (Control fails on a closed one,
// which the kernel has already removed).
func (p *poller) del(rc syscall.RawConn) {
	_ = rc.Control(func(s uintptr) {
		var ev syscall.EpollEvent
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(s), &ev)
	})
}

// wait calls ready for each socket with an event until wake is called.
func (p *poller) wait(ready func(fd int32)) {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.pipe[0]) {
				return
			}
			ready(ev.Fd)
		}
	}
}

// wake makes wait return.
func (p *poller) wake() { _, _ = syscall.Write(p.pipe[1], []byte{1}) }

func (p *poller) close() {
	_ = syscall.Close(p.epfd)
	_ = syscall.Close(p.pipe[0])
	_ = syscall.Close(p.pipe[1])
}

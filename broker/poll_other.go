//go:build !linux

package broker

import (
	"errors"
	"syscall"
)

// poller is Linux's; elsewhere connections do not hibernate.
type poller struct{}

func newPoller() (*poller, error) {
	return nil, errors.New("hibernation needs epoll (Linux)")
}

func (p *poller) add(syscall.RawConn) (int32, error) { return 0, errors.ErrUnsupported }
func (p *poller) del(syscall.RawConn)                {}
func (p *poller) wait(func(int32))                   {}
func (p *poller) wake()                              {}
func (p *poller) close()                             {}

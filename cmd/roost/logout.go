package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"net/url"
	"os"
	"sync"

	"github.com/roostmq/roost/config"
)

// logOutput is where `roost serve` writes its log: standard error, a file
// (reopened on SIGHUP, so that logrotate can move it away) and syslog, as
// the log: section says. Each Write is one record, as slog writes them.
type logOutput struct {
	mu     sync.Mutex
	stderr io.Writer      // nil: not written
	path   string         // the file's path; "" none
	file   *os.File       // guarded by mu
	sys    *syslog.Writer // nil: no syslog
}

func openLogOutput(c config.LogConfig, stderr io.Writer) (*logOutput, error) {
	o := &logOutput{path: c.File}
	if c.Stderr {
		o.stderr = stderr
	}
	if c.File != "" {
		if err := o.Reopen(); err != nil {
			return nil, err
		}
	}
	if c.Syslog != "" {
		network, addr := "", ""
		if c.Syslog != "local" {
			u, err := url.Parse(c.Syslog)
			if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "unixgram" && u.Scheme != "unix") {
				o.Close()
				return nil, fmt.Errorf("log.syslog: %q is not \"local\" nor a udp://, tcp://, unix:// or unixgram:// URL", c.Syslog)
			}
			network, addr = u.Scheme, u.Host
			if u.Scheme == "unix" || u.Scheme == "unixgram" {
				addr = u.Host + u.Path
			}
		}
		w, err := syslog.Dial(network, addr, syslog.LOG_INFO|syslog.LOG_DAEMON, "roost")
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("log.syslog: %w", err)
		}
		o.sys = w
	}
	return o, nil
}

// Reopen closes the log file and opens it again by name (SIGHUP).
func (o *logOutput) Reopen() error {
	if o.path == "" {
		return nil
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("log.file: %w", err)
	}
	o.mu.Lock()
	old := o.file
	o.file = f
	o.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// Write writes one record to every output; it fails only if all fail.
func (o *logOutput) Write(p []byte) (int, error) {
	var errs []error
	ok := false
	if o.stderr != nil {
		_, err := o.stderr.Write(p)
		ok, errs = ok || err == nil, append(errs, err)
	}
	o.mu.Lock()
	if o.file != nil {
		_, err := o.file.Write(p)
		ok, errs = ok || err == nil, append(errs, err)
	}
	o.mu.Unlock()
	if o.sys != nil {
		err := o.syslogWrite(p)
		ok, errs = ok || err == nil, append(errs, err)
	}
	if ok || len(errs) == 0 {
		return len(p), nil
	}
	return 0, errors.Join(errs...)
}

// syslogWrite sends a record at the severity of its level.
func (o *logOutput) syslogWrite(p []byte) error {
	msg := string(bytes.TrimRight(p, "\n"))
	switch {
	case bytes.Contains(p, []byte("level=ERROR")) || bytes.Contains(p, []byte(`"level":"ERROR"`)):
		return o.sys.Err(msg)
	case bytes.Contains(p, []byte("level=WARN")) || bytes.Contains(p, []byte(`"level":"WARN"`)):
		return o.sys.Warning(msg)
	case bytes.Contains(p, []byte("level=DEBUG")) || bytes.Contains(p, []byte(`"level":"DEBUG"`)):
		return o.sys.Debug(msg)
	}
	return o.sys.Info(msg)
}

// Close closes the file and the syslog connection.
func (o *logOutput) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file != nil {
		_ = o.file.Close()
		o.file = nil
	}
	if o.sys != nil {
		_ = o.sys.Close()
	}
}

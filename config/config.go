// Package config reads Roost's YAML config file and turns it into
// broker.Options plus the logging settings of the roost command.
//
// Reading is strict: an unknown key, a value of the wrong type or a bad value
// is refused with an error of the form
//
//	roost.yaml:7: limits.max_packet_size: "12XB" is not a size
//
// Keys that the file leaves out keep the values of broker.DefaultOptions, and
// the result passes broker.Options.Validate. Durations are Go duration
// strings ("30s", "10m", "168h"); sizes are a number of bytes ("1024") or a
// number with a unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers
// of 1024). roost.example.yaml at the repository root documents every key.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/roostmq/roost/admin"
	"github.com/roostmq/roost/auth"
	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/listener"
)

// File is what a config file configures: the broker and the command's logs.
type File struct {
	// Options configures the broker. Options.Logger is left nil: the caller
	// builds it from Log (see LogConfig.NewLogger).
	Options broker.Options
	// Listeners are the listeners the command opens (listener.Listen, then
	// broker.Server.Serve). Options.Listen holds the addresses of the plain
	// tcp ones among them.
	Listeners []listener.Config
	// Log configures the command's logger.
	Log LogConfig
	// Admin is the admin: section: the HTTP listener of /metrics, the REST
	// API and the dashboard (package admin); off unless Admin.Enabled.
	Admin admin.Config
	// Auth is the auth: section; auth.Build turns it into the broker's
	// Authenticator, Authorizer and EnhancedAuth. Options.Bans holds its
	// bans.
	Auth auth.Config
	// Storage is the storage: section: where sessions, queued and retained
	// messages are kept (see StorageConfig.OpenStore).
	Storage StorageConfig
}

// LogFormat is how log records are written.
type LogFormat string

// Log formats.
const (
	LogText LogFormat = "text" // key=value lines (slog.TextHandler)
	LogJSON LogFormat = "json" // one JSON object per line (slog.JSONHandler)
)

// LogConfig is the log: section of the file.
type LogConfig struct {
	Level  slog.Level // debug, info (default), warn or error
	Format LogFormat  // text (default) or json
	// File, when set, is a file the log is appended to as well; SIGHUP
	// reopens it, so that logrotate can move it away.
	File string
	// Syslog, when set, sends the log to syslog too: "local" for the
	// system's socket (/dev/log), or a URL: udp://host:514,
	// tcp://host:514, unixgram:///path. Levels map to syslog severities.
	Syslog string
	// Stderr: the log goes to standard error (default true).
	Stderr bool
}

// NewLogger returns a logger that writes records at c.Level or above to w
// in c.Format.
func (c LogConfig) NewLogger(w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: c.Level}
	if c.Format == LogJSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Default returns the settings used without a config file:
// broker.DefaultOptions and info-level text logs.
func Default() *File {
	f := &File{
		Options: broker.DefaultOptions(),
		Log:     LogConfig{Level: slog.LevelInfo, Format: LogText, Stderr: true},
		Admin:   admin.Config{Address: admin.DefaultAddress, SessionTTL: admin.DefaultSessionTTL},
		Auth:    defaultAuth(),
		Storage: DefaultStorage(),
	}
	f.Listeners = defaultListeners(&f.Options)
	return f
}

// Load reads and parses the config file at path (see Parse). Errors name the
// file as path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse parses a config file's contents; name is used in error messages. An
// empty document gives Default(). The returned error is either a syntax
// error, one or more *Error values joined with errors.Join (every bad key of
// the file is reported, not only the first), or the broker's own validation
// error prefixed with name and, where the key is known, the line that set it.
func Parse(data []byte, name string) (*File, error) {
	f := Default()
	root, err := parseYAML(data, name)
	if err != nil {
		return nil, err
	}
	d := &decoder{name: name, lines: make(map[string]int)}
	if root != nil {
		d.file(root, f)
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	if dl, ok := f.Options.Authorizer.(*broker.DenyList); ok {
		dl.RefuseOverlapping = f.Auth.RefuseWildcards() // whichever section came first
	}
	if err := f.Options.Validate(); err != nil {
		return nil, d.validation(err)
	}
	return f, nil
}

// Error is one refused key of a config file.
type Error struct {
	File   string // the name given to Parse (the path for Load)
	Line   int    // 1-based; 0 when the error is not tied to a line
	Key    string // dotted path: "limits.max_packet_size", "listeners[0].type"
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// validation turns the error of Options.Validate into errors that carry the
// file name and, when the message starts with a key the file set, its line.
func (d *decoder) validation(err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		out = append(out, &validationError{prefix: d.prefixFor(e.Error()), err: e})
	}
	return errors.Join(out...)
}

// prefixFor returns "FILE:LINE" for a Validate message that begins with a
// key path set in the file, else "FILE".
func (d *decoder) prefixFor(msg string) string {
	key := msg
	if i := strings.IndexAny(key, " :"); i >= 0 {
		key = key[:i]
	}
	if line, ok := d.lines[key]; ok {
		return fmt.Sprintf("%s:%d", d.name, line)
	}
	return d.name
}

// validationError is an error of Options.Validate located in the file.
type validationError struct {
	prefix string
	err    error
}

func (e *validationError) Error() string { return e.prefix + ": " + e.err.Error() }
func (e *validationError) Unwrap() error { return e.err }

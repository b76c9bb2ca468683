package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/roostmq/roost/admin"
	"github.com/roostmq/roost/auth"
	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/config"
	"github.com/roostmq/roost/listener"
)

// ops is the operations side of `roost serve`: the logger (level changeable
// at run time, per-client trace), the admin HTTP server, and config reload
// on SIGHUP or when the file changes.
type ops struct {
	stderr io.Writer
	out    *logOutput // where the log goes (log: file, syslog, stderr)
	level  *slog.LevelVar
	obs    *admin.Observer
	log    *slog.Logger

	adm       *admin.Server
	admServed chan error

	mu   sync.Mutex      // guards cur and lns
	cur  *config.File    // the config in force
	lns  []*liveListener // the open listeners, in the order of cur.Listeners
	srv  *broker.Server  // set by startAdmin
	stop chan struct{}
	wg   sync.WaitGroup
}

// liveListener is a listener that a reload can remove without the broker
// noticing: once removed, its socket is closed (no new connections; those
// accepted stay) and Accept blocks until the broker closes it at shutdown,
// so that Serve does not return early.
type liveListener struct {
	net.Listener
	cfg     listener.Config
	removed chan struct{}
	closed  chan struct{}
	rmOnce  sync.Once
	clOnce  sync.Once
}

func newLiveListener(cfg listener.Config, ln net.Listener) *liveListener {
	return &liveListener{Listener: ln, cfg: cfg, removed: make(chan struct{}), closed: make(chan struct{})}
}

func (l *liveListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		select {
		case <-l.removed:
			<-l.closed
			return nil, net.ErrClosed
		default:
		}
	}
	return c, err
}

// remove stops accepting on the listener.
func (l *liveListener) remove() {
	l.rmOnce.Do(func() {
		close(l.removed)
		_ = l.Listener.Close()
	})
}

func (l *liveListener) Close() error {
	l.clOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// track wraps a listener of the initial config so that a reload can remove
// it.
func (o *ops) track(cfg listener.Config, ln net.Listener) net.Listener {
	l := newLiveListener(cfg, ln)
	o.mu.Lock()
	o.lns = append(o.lns, l)
	o.mu.Unlock()
	return l
}

// newOps builds the logger of f.Log.
func newOps(f *config.File, stderr io.Writer) (*ops, error) {
	out, err := openLogOutput(f.Log, stderr)
	if err != nil {
		return nil, err
	}
	o := &ops{stderr: stderr, out: out, level: new(slog.LevelVar), obs: admin.NewObserver(), cur: f, stop: make(chan struct{})}
	o.level.Set(f.Log.Level)
	o.log = o.obs.Logger(out, f.Log.Format == config.LogJSON, o.level)
	return o, nil
}

// hooks adds the Observer's hooks (trace, topic counts) to h.
func (o *ops) hooks(h broker.Hooks) broker.Hooks { return o.obs.Hooks(h) }

// startAdmin opens the admin listener when the file enables it.
func (o *ops) startAdmin(srv *broker.Server, f *config.File, lns []net.Listener) error {
	o.srv = srv
	if !f.Admin.Enabled {
		return nil
	}
	a, err := admin.New(admin.Options{Config: f.Admin, Broker: srv, Logger: o.log, Observer: o.obs,
		LogLevel: o.level, WebSocketURLs: wsURLs(f.Listeners, lns), Store: f.Options.Store})
	if err != nil {
		return err
	}
	if err := a.Listen(); err != nil {
		return err
	}
	o.adm = a
	o.admServed = make(chan error, 1)
	go func() { o.admServed <- a.Serve() }()
	return nil
}

// wsURLs returns the URLs of the ws listeners; a listener on every
// interface gets an empty host, which the dashboard replaces with its own.
func wsURLs(cfgs []listener.Config, lns []net.Listener) []string {
	var out []string
	for i, ln := range lns {
		c := cfgs[i]
		if c.Type != listener.WS && c.Type != listener.WSS {
			continue
		}
		path := listener.DefaultWSPath
		if c.WebSocket != nil && c.WebSocket.Path != "" {
			path = c.WebSocket.Path
		}
		host := ""
		port := ""
		if ta, ok := ln.Addr().(*net.TCPAddr); ok {
			port = strconv.Itoa(ta.Port)
			if !ta.IP.IsUnspecified() {
				host = ta.IP.String()
			}
		}
		out = append(out, listener.Scheme(c.Type)+"://"+net.JoinHostPort(host, port)+path)
	}
	return out
}

// watch reloads the config file on SIGHUP and when it changes on disk
// (checked every second), until close.
func (o *ops) watch(fl *serveFlags, srv *broker.Server) {
	path := fl.config
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stamp := fileStamp(path)
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer signal.Stop(hup)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-o.stop:
				return
			case <-hup:
				if err := o.out.Reopen(); err != nil {
					o.log.Error("SIGHUP: reopening the log file", "err", err)
				}
				if path == "" {
					o.log.Warn("SIGHUP: no config file to reload (roost serve --config FILE)")
					continue
				}
				o.log.Info("SIGHUP: reloading the config", "file", path)
				stamp = fileStamp(path)
				o.reload(fl, srv)
			case <-t.C:
				if s := fileStamp(path); path != "" && s != stamp {
					stamp = s
					o.log.Info("config file changed: reloading", "file", path)
					o.reload(fl, srv)
				}
			}
		}
	}()
}

func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fi.ModTime().String() + "/" + strconv.FormatInt(fi.Size(), 10)
}

// reload reads the file again and applies what can change at run time. A
// bad file is logged and changes nothing.
func (o *ops) reload(fl *serveFlags, srv *broker.Server) {
	f, err := buildConfig(fl)
	if err != nil {
		o.log.Error("config reload refused; keeping the running config", "err", err)
		return
	}
	o.mu.Lock()
	old := o.cur
	o.cur = f
	o.mu.Unlock()
	applied, restart := o.apply(old, f, srv)
	applied = append(applied, o.applyListeners(f, srv)...)
	if len(applied) == 0 {
		applied = []string{"nothing changed"}
	}
	o.log.Info("config reloaded", "applied", applied, "needs_restart", restart)
}

// apply changes what can change live and names what needs a restart.
func (o *ops) apply(old, f *config.File, srv *broker.Server) (applied, restart []string) {
	if f.Log.Level != old.Log.Level {
		o.level.Set(f.Log.Level)
		applied = append(applied, "log.level")
	}
	if f.Log.Format != old.Log.Format {
		restart = append(restart, "log.format")
	}
	if !reflect.DeepEqual(f.Options.Limits, srv.Limits()) {
		if err := srv.SetLimits(f.Options.Limits); err != nil {
			o.log.Error("limits not changed", "err", err)
			restart = append(restart, "limits")
		} else {
			applied = append(applied, "limits")
		}
	}
	if !reflect.DeepEqual(f.Options.Sessions, old.Options.Sessions) || !reflect.DeepEqual(f.Options.Retain, old.Options.Retain) ||
		f.Options.SysInterval != old.Options.SysInterval || f.Options.ResponseTopicPrefix != old.Options.ResponseTopicPrefix ||
		f.Options.HibernateAfter != old.Options.HibernateAfter {
		restart = append(restart, "sessions/retain/sys_interval/hibernate_after/response_topic_prefix")
	}
	if !reflect.DeepEqual(f.Auth, old.Auth) || !reflect.DeepEqual(f.Options.Authorizer, old.Options.Authorizer) {
		// The files named in auth: also reload by themselves when they
		// change (package auth); a change of the sections builds the chain
		// again and swaps it in for the next CONNECT and packet.
		if err := o.swapAuth(f, srv); err != nil {
			o.log.Error("auth/deny sections not changed", "err", err)
			restart = append(restart, "auth/deny sections")
		} else {
			applied = append(applied, "auth/deny sections")
		}
	}
	sameCreds := f.Admin.Token == old.Admin.Token && reflect.DeepEqual(f.Admin.Users, old.Admin.Users)
	if o.adm != nil && f.Admin.Enabled && f.Admin.Address == old.Admin.Address {
		if err := f.Admin.Validate(); err == nil && !sameCreds {
			o.adm.SetCredentials(f.Admin.Token, f.Admin.Users)
			applied = append(applied, "admin credentials")
		}
	} else if f.Admin.Enabled != old.Admin.Enabled || f.Admin.Address != old.Admin.Address {
		restart = append(restart, "admin.enabled/address")
	}
	return applied, restart
}

// applyListeners opens the listeners that f adds and stops accepting on
// those it removes; the others, and every established connection, are not
// touched.
func (o *ops) applyListeners(f *config.File, srv *broker.Server) (applied []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := make([]bool, len(o.lns))
	var add []listener.Config
next:
	for _, lc := range f.Listeners {
		for i, l := range o.lns {
			if !keep[i] && reflect.DeepEqual(l.cfg, lc) {
				keep[i] = true
				continue next
			}
		}
		add = append(add, lc)
	}
	var lns []*liveListener
	for i, l := range o.lns {
		if keep[i] {
			lns = append(lns, l)
			continue
		}
		l.remove()
		o.log.Info("listener removed", "listener", l.cfg.String(), "address", l.Addr().String())
		applied = append(applied, "removed listener "+l.cfg.String())
	}
	for _, lc := range add {
		ln, err := listener.Listen(lc, o.log)
		if err != nil {
			o.log.Error("listener not added", "listener", lc.String(), "err", err)
			continue
		}
		l := newLiveListener(lc, ln)
		lns = append(lns, l)
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, broker.ErrServerClosed) {
				o.log.Error("listener stopped", "listener", lc.String(), "err", err)
			}
		}()
		applied = append(applied, "added listener "+lc.String())
	}
	o.lns = lns
	return applied
}

// close stops the admin server and the watcher.
func (o *ops) close() {
	close(o.stop)
	o.wg.Wait()
	defer o.out.Close()
	if o.adm != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = o.adm.Shutdown(ctx)
		if err := <-o.admServed; err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("admin server", "err", fmt.Sprint(err))
		}
	}
}

// swapAuth builds the auth chain of f (with its deny: lists) and puts it in
// force in srv.
func (o *ops) swapAuth(f *config.File, srv *broker.Server) error {
	built, err := auth.Build(&f.Auth, f.Options.Authorizer, o.log)
	if err != nil {
		return err
	}
	if built == nil {
		return srv.SetAuth(nil, f.Options.Authorizer, nil)
	}
	return srv.SetAuth(built.Chain, built.Chain, built.EnhancedAuth)
}

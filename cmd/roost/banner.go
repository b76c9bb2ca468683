package main

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
)

// bannerListener is one open listener as the banner shows it.
type bannerListener struct {
	Scheme        string   // mqtt, mqtts, ws, wss, unix
	Addr          net.Addr // where it listens
	Path          string   // the WebSocket path
	Notes         []string // "client certificates required", ...
	CertsRequired bool     // clients prove who they are with a certificate
}

// printBanner tells the operator what is running, where, and how clients
// authenticate. Anonymous access is fine on loopback (and Unix sockets)
// only; anywhere else the banner warns loudly (but roost still starts, so
// that `roost serve` works out of the box). A listener that requires client
// certificates is not anonymous.
func printBanner(w io.Writer, version string, lns []bannerListener, hasAuth bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "Roost %s (%s) MQTT broker\n", version, runtime.Version())
	var exposed []string
	certs := false
	for _, l := range lns {
		certs = certs || l.CertsRequired
		where, sc := "", addrScope(l.Addr)
		switch sc {
		case scopeLoopback:
			where = "loopback only"
		case scopeLocal:
			where = "local socket"
		case scopeAll:
			where = "all interfaces"
		default:
			where = "reachable from the network"
		}
		notes := append([]string{where}, l.Notes...)
		fmt.Fprintf(&b, "  listening: %s://%s%s (%s)\n", l.Scheme, l.Addr, l.Path, strings.Join(notes, "; "))
		if sc != scopeLoopback && sc != scopeLocal && !l.CertsRequired {
			exposed = append(exposed, l.Addr.String())
		}
	}
	switch {
	case hasAuth:
		b.WriteString("  authentication: required; clients are checked by the configured authenticator\n")
	case len(exposed) == 0 && certs:
		b.WriteString("  authentication: client certificates where listed; elsewhere anonymous clients are accepted (loopback and local sockets only)\n")
	case len(exposed) == 0:
		b.WriteString("  authentication: none; anonymous clients are accepted (every listener is on loopback)\n")
		b.WriteString("  other machines cannot connect: to accept them, listen with --listen :1883 or a listeners:\n" +
			"  section in a config file, and set up authentication (see roost.example.yaml)\n")
	default:
		bar := strings.Repeat("!", 78)
		fmt.Fprintf(&b, "%s\n", bar)
		b.WriteString("!! WARNING: ANONYMOUS ACCESS IS ENABLED ON A LISTENER THAT IS NOT ON LOOPBACK\n")
		fmt.Fprintf(&b, "!!   %s\n", strings.Join(exposed, ", "))
		fmt.Fprintf(&b, "!! Anyone who can reach %s can connect, publish and subscribe\n", plural(len(exposed), "this address", "these addresses"))
		b.WriteString("!! without a username or password.\n")
		b.WriteString("!! Set up client authentication in the auth section of the config file,\n")
		b.WriteString("!! or listen on loopback only (roost serve --listen 127.0.0.1:1883),\n")
		b.WriteString("!! restrict access with a firewall, and limit topics with the deny section\n")
		b.WriteString("!! (see roost.example.yaml).\n")
		fmt.Fprintf(&b, "%s\n", bar)
	}
	io.WriteString(w, b.String())
}

type scope int

const (
	scopeLoopback scope = iota // 127.0.0.0/8, ::1
	scopeAll                   // 0.0.0.0, ::
	scopeOther                 // a specific non-loopback address
	scopeLocal                 // a Unix domain socket
)

// addrScope says who can reach a listening address.
func addrScope(a net.Addr) scope {
	var ip net.IP
	switch a := a.(type) {
	case *net.UnixAddr:
		return scopeLocal
	case *net.TCPAddr:
		ip = a.IP
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return scopeOther
		}
		ip = net.ParseIP(host)
	}
	switch {
	case ip == nil || ip.IsUnspecified():
		return scopeAll
	case ip.IsLoopback():
		return scopeLoopback
	}
	return scopeOther
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

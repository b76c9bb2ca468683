package config

import (
	"crypto/tls"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/listener"
)

// listenerTypes are the types a listeners: entry may have.
var listenerTypes = map[string]bool{
	listener.TCP: true, listener.TLS: true, listener.WS: true, listener.WSS: true, listener.Unix: true,
}

// listeners decodes the listeners: list; it replaces the default listeners.
// Options.Listen receives the addresses of the plain tcp listeners (those
// without PROXY protocol), for broker.Server.ListenAndServe; File.Listeners
// receives all of them.
func (d *decoder) listeners(path string, n *yaml.Node, f *File) {
	var out []listener.Config
	items, bad := 0, false
	firstLine := make(map[string]int)
	ok := d.list(path, n, func(path string, _ int, item *yaml.Node) {
		items++
		c, addrNode, ok := d.listener(path, item)
		if !ok {
			bad = true
			return
		}
		if prev, dup := firstLine[c.Address]; dup && !strings.HasSuffix(c.Address, ":0") { // port 0: any free port
			d.fail(addrNode, path+".address", "%q is already listed at line %d", c.Address, prev)
			bad = true
			return
		}
		firstLine[c.Address] = addrNode.Line
		out = append(out, c)
	})
	if !ok || bad {
		return
	}
	if items == 0 {
		d.fail(resolve(n), path, "at least one listener is needed")
		return
	}
	f.Listeners = out
	f.Options.Listen = plainTCP(out)
}

// plainTCP returns the addresses of the tcp listeners without PROXY
// protocol.
func plainTCP(ls []listener.Config) []string {
	var addrs []string
	for _, c := range ls {
		if c.Type == listener.TCP && !c.ProxyProtocol {
			addrs = append(addrs, c.Address)
		}
	}
	return addrs
}

// listener decodes one entry of listeners:. It returns the node to blame for
// the address.
func (d *decoder) listener(path string, item *yaml.Node) (listener.Config, *yaml.Node, bool) {
	c := listener.Config{Type: listener.TCP}
	nerr := len(d.errs)
	var addrNode, tlsNode, wsNode, unixNode *yaml.Node
	d.mapping(path, item, map[string]handler{
		"type": func(path string, n *yaml.Node) {
			v, ok := d.stringValue(path, n)
			if !ok {
				return
			}
			if !listenerTypes[v] {
				d.fail(resolve(n), path, "unknown listener type %q (want tcp, tls, ws, wss or unix)", v)
				return
			}
			c.Type = v
		},
		"address": func(path string, n *yaml.Node) {
			if v, ok := d.stringValue(path, n); ok {
				c.Address, addrNode = v, resolve(n)
			}
		},
		"proxy_protocol":    d.boolField(&c.ProxyProtocol),
		"trusted_proxies":   func(path string, n *yaml.Node) { c.TrustedProxies = d.prefixes(path, n) },
		"handshake_timeout": d.durationField(&c.HandshakeTimeout),
		"tls": func(path string, n *yaml.Node) {
			tlsNode = d.keyNode(path)
			c.TLS = d.tlsSection(path, n)
		},
		"websocket": func(path string, n *yaml.Node) {
			wsNode = d.keyNode(path)
			c.WebSocket = d.wsSection(path, n)
		},
		"unix": func(path string, n *yaml.Node) {
			unixNode = d.keyNode(path)
			c.Unix = &listener.UnixConfig{}
			d.mapping(path, n, map[string]handler{"mode": d.fileMode(&c.Unix.Mode)})
		},
	})
	if len(d.errs) > nerr {
		return c, nil, false
	}
	secure := c.Type == listener.TLS || c.Type == listener.WSS
	web := c.Type == listener.WS || c.Type == listener.WSS
	switch {
	case secure && c.TLS == nil:
		d.fail(resolve(item), path+".tls", "a %s listener needs a tls section with cert_file and key_file", c.Type)
	case !secure && tlsNode != nil:
		d.fail(tlsNode, path+".tls", "only tls and wss listeners take a tls section, not %s", c.Type)
	case !web && wsNode != nil:
		d.fail(wsNode, path+".websocket", "only ws and wss listeners take a websocket section, not %s", c.Type)
	case c.Type != listener.Unix && unixNode != nil:
		d.fail(unixNode, path+".unix", "only unix listeners take a unix section, not %s", c.Type)
	case c.Type == listener.Unix && addrNode == nil:
		d.fail(resolve(item), path+".address", "a unix listener needs the socket file's path as its address")
	}
	if len(d.errs) > nerr {
		return c, nil, false
	}
	if addrNode == nil {
		c.Address, addrNode = listener.DefaultAddress(c.Type), resolve(item)
	} else if c.Type != listener.Unix {
		if err := CheckListenAddress(c.Address); err != nil {
			d.fail(addrNode, path+".address", "%v", err)
			return c, nil, false
		}
	}
	if err := c.Validate(); err != nil { // what the checks above missed
		d.fail(resolve(item), path, "%v", err)
		return c, nil, false
	}
	return c, addrNode, true
}

func (d *decoder) tlsSection(path string, n *yaml.Node) *listener.TLSConfig {
	t := &listener.TLSConfig{}
	nerr := len(d.errs)
	var caNode, crlNode *yaml.Node
	d.mapping(path, n, map[string]handler{
		"cert_file": d.stringField(&t.CertFile),
		"key_file":  d.stringField(&t.KeyFile),
		"ca_file": func(path string, n *yaml.Node) {
			caNode = resolve(n)
			d.stringField(&t.CAFile)(path, n)
		},
		"client_certs": func(path string, n *yaml.Node) {
			if v, ok := d.choice(path, n, listener.ClientCertsNone, listener.ClientCertsOptional, listener.ClientCertsRequired); ok {
				t.ClientCerts = v
			}
		},
		"min_version": func(path string, n *yaml.Node) {
			s := d.scalar(path, n, `"1.2" or "1.3"`)
			if s == nil {
				return
			}
			switch s.Value { // unquoted, 1.2 reads as a number: accept it
			case "1.2":
				t.MinVersion = tls.VersionTLS12
			case "1.3":
				t.MinVersion = tls.VersionTLS13
			default:
				d.fail(s, path, "%q is not a TLS version Roost accepts (\"1.2\" or \"1.3\")", s.Value)
			}
		},
		"cert_identity": func(path string, n *yaml.Node) {
			if v, ok := d.choice(path, n, listener.IdentityCN, listener.IdentitySubject, listener.IdentityNone); ok {
				t.CertIdentity = v
			}
		},
		"crl_file": func(path string, n *yaml.Node) {
			crlNode = resolve(n)
			d.stringField(&t.CRLFile)(path, n)
		},
	})
	if len(d.errs) > nerr {
		return t
	}
	if t.CertFile == "" || t.KeyFile == "" {
		d.fail(resolve(n), path, "cert_file and key_file are required")
		return t
	}
	switch t.ClientCerts {
	case listener.ClientCertsOptional, listener.ClientCertsRequired:
		if t.CAFile == "" {
			d.fail(resolve(n), path+".client_certs", "client_certs %s needs a ca_file to check certificates against", t.ClientCerts)
		}
	case listener.ClientCertsNone:
		if t.CAFile != "" {
			d.fail(caNode, path+".ca_file", "set, but client_certs is none")
		}
	}
	if t.CRLFile != "" && t.CAFile == "" {
		d.fail(crlNode, path+".crl_file", "set, but there is no ca_file: revocation lists apply to client certificates")
	}
	return t
}

func (d *decoder) wsSection(path string, n *yaml.Node) *listener.WSConfig {
	w := &listener.WSConfig{}
	d.mapping(path, n, map[string]handler{
		"path": func(path string, n *yaml.Node) {
			v, ok := d.stringValue(path, n)
			if !ok {
				return
			}
			if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "?# ") {
				d.fail(resolve(n), path, "%q is not a URL path such as /mqtt", v)
				return
			}
			w.Path = v
		},
		"allowed_origins": func(path string, n *yaml.Node) {
			w.AllowedOrigins = []string{}
			d.list(path, n, func(path string, _ int, item *yaml.Node) {
				v, ok := d.stringValue(path, item)
				if !ok {
					return
				}
				if v != "*" {
					u, err := url.Parse(v)
					if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
						d.fail(resolve(item), path, "%q is not an origin such as https://app.example.com (or *)", v)
						return
					}
				}
				w.AllowedOrigins = append(w.AllowedOrigins, v)
			})
		},
	})
	return w
}

// prefixes decodes a list of CIDR prefixes or single addresses.
func (d *decoder) prefixes(path string, n *yaml.Node) []netip.Prefix {
	out := []netip.Prefix{}
	d.list(path, n, func(path string, _ int, item *yaml.Node) {
		v, ok := d.stringValue(path, item)
		if !ok {
			return
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			return
		}
		if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			return
		}
		d.fail(resolve(item), path, "%q is neither an IP address nor a CIDR prefix such as 10.0.0.0/8", v)
	})
	return out
}

// fileMode decodes permission bits written in octal: "0660" or 0660.
func (d *decoder) fileMode(p *os.FileMode) handler {
	return func(path string, n *yaml.Node) {
		s := d.scalar(path, n, `an octal mode such as "0660"`)
		if s == nil {
			return
		}
		v, err := strconv.ParseUint(strings.TrimPrefix(s.Value, "0o"), 8, 32)
		if err != nil || v == 0 || v > 0o777 {
			d.fail(s, path, "%q is not an octal file mode from 0001 to 0777 (such as \"0660\")", s.Value)
			return
		}
		*p = os.FileMode(v)
	}
}

// keyNode stands for the key at path, for errors about a whole section.
func (d *decoder) keyNode(path string) *yaml.Node {
	return &yaml.Node{Line: d.lines[path]}
}

// defaultListeners is the listener used without a listeners: key.
func defaultListeners(o *broker.Options) []listener.Config {
	out := make([]listener.Config, 0, len(o.Listen))
	for _, a := range o.Listen {
		out = append(out, listener.Config{Type: listener.TCP, Address: a})
	}
	return out
}

package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/roostmq/roost/client"
	"github.com/roostmq/roost/packet"
)

// clientFlags are the connection options `roost pub`, `sub` and `req` share,
// named as in mosquitto_pub and mosquitto_sub.
type clientFlags struct {
	host, url, id, username, password, version string
	unix, idPrefix, bindAddr                   string
	port, keepalive, qos                       int
	persistent                                 bool // -c: no clean session
	sessionExpiry                              int64
	props                                      []string
	willTopic, willPayload                     string
	willQoS                                    int
	willRetain                                 bool
	cafile, capath, cert, key, tlsVersion      string
	osCerts                                    bool
	insecure                                   bool
	debug, quiet, nodelay                      bool
	optionsFile                                string // -o, read before parsing (see withOptionsFile)
	timeout                                    int    // -W seconds
	help                                       bool

	// Parsed by setup.
	parsed props
	stderr io.Writer
}

// props holds -D properties by command.
type props struct {
	connect, publish, subscribe []client.UserProperty
	msg                         client.Properties // publish properties other than user
	sessionExpiry               int64             // -D connect session-expiry-interval, -1 unset
}

// mqttCommand builds a command with Mosquitto's short flags: -h is the host,
// so help is --help only.
func mqttCommand(use, short, long string, fl *clientFlags, run func(cmd *cobra.Command) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl.stderr = cmd.ErrOrStderr()
			err := fl.setup()
			if err != nil {
				err = usageErr(err)
			} else {
				err = run(cmd)
			}
			var ce *exitCodeError
			if fl.quiet && errors.As(err, &ce) {
				ce.quiet = true
			}
			return err
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.BoolVar(&fl.help, "help", false, "show this help")
	f.StringVarP(&fl.host, "host", "h", "localhost", "broker `host`")
	f.IntVarP(&fl.port, "port", "p", 0, "broker `port` (default 1883, 8883 with TLS)")
	f.StringVarP(&fl.url, "url", "L", "", "broker URL mqtt(s)|ws(s)://[user[:password]@]host[:port][/topic], or unix:///path")
	f.StringVar(&fl.unix, "unix", "", "connect through the Unix domain socket at `path`")
	f.StringVarP(&fl.bindAddr, "bind-address", "A", "", "bind the outgoing socket to this local `address`")
	f.BoolVar(&fl.nodelay, "nodelay", false, "disable Nagle's algorithm (always off in roost; accepted for mosquitto compatibility)")
	f.StringVarP(&fl.id, "id", "i", "", "client `id` (default: random)")
	f.StringVarP(&fl.idPrefix, "id-prefix", "I", "", "client id is this `prefix` followed by the process id")
	f.StringVarP(&fl.username, "username", "u", "", "`user` name")
	f.StringVarP(&fl.password, "pw", "P", "", "`password`")
	f.StringVarP(&fl.version, "protocol-version", "V", "mqttv5", "protocol: mqttv5 (5), mqttv311 (311) or mqttv31 (31)")
	f.IntVarP(&fl.keepalive, "keepalive", "k", 60, "keepalive in `seconds` (0 disables)")
	f.IntVarP(&fl.qos, "qos", "q", 0, "quality of service 0, 1 or 2")
	f.BoolVarP(&fl.persistent, "disable-clean-session", "c", false, "keep the session (clean start off)")
	f.Int64VarP(&fl.sessionExpiry, "session-expiry-interval", "x", -1, "MQTT 5 session expiry in `seconds` (default 0, or unlimited with -c)")
	f.StringArrayVarP(&fl.props, "property", "D", nil, "MQTT 5 property: -D `COMMAND NAME VALUE` (user-property takes NAME KEY VALUE)")
	f.StringVar(&fl.willTopic, "will-topic", "", "will `topic`")
	f.StringVar(&fl.willPayload, "will-payload", "", "will `payload`")
	f.IntVar(&fl.willQoS, "will-qos", 0, "will QoS")
	f.BoolVar(&fl.willRetain, "will-retain", false, "retain the will")
	fl.addTLSFlags(f)
	f.BoolVarP(&fl.debug, "debug", "d", false, "print debug messages to stderr")
	f.BoolVar(&fl.quiet, "quiet", false, "do not print error messages")
	f.StringVarP(&fl.optionsFile, "options-file", "o", "", "read default options from `file` (one or more per line, # comments); the command line overrides them")
	f.IntVarP(&fl.timeout, "timeout", "W", 0, "give up after `seconds` (0: never)")
	return cmd
}

// addTLSFlags registers the TLS options of pub, sub and bench.
func (fl *clientFlags) addTLSFlags(f *pflag.FlagSet) {
	f.StringVar(&fl.cafile, "cafile", "", "CA certificates `file` (PEM); turns TLS on")
	f.StringVar(&fl.capath, "capath", "", "`directory` of CA certificates (PEM files); turns TLS on")
	f.BoolVar(&fl.osCerts, "tls-use-os-certs", false, "trust the operating system's CA certificates; turns TLS on")
	f.StringVar(&fl.tlsVersion, "tls-version", "", "TLS `version`: tlsv1.3, tlsv1.2 or tlsv1.1; turns TLS on")
	f.StringVar(&fl.cert, "cert", "", "client certificate `file` (PEM); turns TLS on")
	f.StringVar(&fl.key, "key", "", "client key `file` (PEM)")
	f.BoolVar(&fl.insecure, "insecure", false, "do not check that the server certificate's name matches the host (the chain is still verified)")
}

// tlsWanted reports whether an option turns TLS on.
func (fl *clientFlags) tlsWanted() bool {
	return fl.cafile != "" || fl.capath != "" || fl.osCerts || fl.tlsVersion != "" || fl.cert != "" || fl.insecure
}

func (fl *clientFlags) debugf(format string, args ...any) {
	if fl.debug {
		fmt.Fprintf(fl.stderr, "roost: "+format+"\n", args...)
	}
}

// setup validates the flags and parses -D.
func (fl *clientFlags) setup() error {
	if fl.qos < 0 || fl.qos > 2 || fl.willQoS < 0 || fl.willQoS > 2 {
		return errors.New("QoS must be 0, 1 or 2")
	}
	if fl.keepalive < 0 || fl.keepalive > 65535 {
		return errors.New("-k: keepalive must be between 0 and 65535")
	}
	switch fl.version {
	case "mqttv5", "5", "mqttv311", "311", "mqttv31", "31":
	default:
		return fmt.Errorf("-V: unknown protocol version %q (want mqttv5, mqttv311 or mqttv31)", fl.version)
	}
	if fl.id != "" && fl.idPrefix != "" {
		return errors.New("-i and -I cannot be used together")
	}
	if fl.unix != "" && fl.url != "" {
		return errors.New("--unix and -L cannot be used together")
	}
	if _, err := tlsVersionOf(fl.tlsVersion); err != nil {
		return err
	}
	fl.parsed.sessionExpiry = -1
	for _, d := range fl.props {
		if err := fl.parsed.add(d); err != nil {
			return fmt.Errorf("-D %s: %w", strings.ReplaceAll(d, propSep, " "), err)
		}
	}
	if fl.willPayload != "" && fl.willTopic == "" {
		return errors.New("--will-payload needs --will-topic")
	}
	return nil
}

func (fl *clientFlags) protocol() packet.Version {
	switch fl.version {
	case "mqttv311", "311":
		return packet.V311
	case "mqttv31", "31":
		return packet.V31
	}
	return packet.V5
}

// propSep joins the words of one -D option (see groupPropertyArgs).
const propSep = "\x1f"

// groupPropertyArgs turns Mosquitto's multi-word "-D COMMAND NAME VALUE"
// (four words for user-property) into one flag value, so pflag can parse it.
func groupPropertyArgs(args []string) []string {
	if len(args) == 0 || !slices.Contains([]string{"pub", "sub", "req"}, args[0]) {
		return args
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if (a == "-D" || a == "--property") && i+3 < len(args) {
			n := 3
			if args[i+2] == "user-property" && i+4 < len(args) {
				n = 4
			}
			out = append(out, a, strings.Join(args[i+1:i+1+n], propSep))
			i += n
			continue
		}
		out = append(out, a)
	}
	return out
}

func (p *props) add(d string) error {
	w := strings.Split(d, propSep)
	if len(w) == 1 {
		w = strings.Fields(d)
	}
	if len(w) < 3 {
		return errors.New("want COMMAND NAME VALUE")
	}
	cmd, name, val := w[0], w[1], w[2]
	if name == "user-property" {
		if len(w) != 4 {
			return errors.New("user-property needs a key and a value")
		}
		up := client.UserProperty{Key: w[2], Value: w[3]}
		switch cmd {
		case "connect":
			p.connect = append(p.connect, up)
		case "publish":
			p.publish = append(p.publish, up)
		case "subscribe":
			p.subscribe = append(p.subscribe, up)
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
		return nil
	}
	num := func() (uint32, error) {
		n, err := strconv.ParseUint(val, 10, 32)
		return uint32(n), err
	}
	switch cmd + " " + name {
	case "connect session-expiry-interval":
		n, err := num()
		p.sessionExpiry = int64(n)
		return err
	case "publish content-type":
		p.msg.ContentType = val
	case "publish response-topic":
		p.msg.ResponseTopic = val
	case "publish correlation-data":
		p.msg.CorrelationData = []byte(val)
	case "publish message-expiry-interval":
		n, err := num()
		p.msg.MessageExpiry = time.Duration(n) * time.Second
		return err
	case "publish payload-format-indicator":
		n, err := num()
		if n > 1 {
			return errors.New("must be 0 or 1")
		}
		p.msg.PayloadFormat = byte(n)
		return err
	default:
		return fmt.Errorf("unsupported property %q for %s", name, cmd)
	}
	return nil
}

// connect dials the broker; the URL's path, if any, is returned as a topic.
func (fl *clientFlags) connect(ctx context.Context, prefix string, opts *client.Options) (*client.Client, string, error) {
	tlsOn := fl.tlsWanted()
	scheme := "mqtt"
	if tlsOn {
		scheme = "mqtts"
	}
	port := fl.port
	if port == 0 {
		port = 1883
		if tlsOn {
			port = 8883
		}
	}
	raw := fmt.Sprintf("%s://%s", scheme, hostPort(fl.host, port))
	var urlTopic string
	if fl.url != "" {
		u, err := url.Parse(fl.url)
		if err != nil || (u.Host == "" && u.Scheme != "unix") {
			return nil, "", usageErr(fmt.Errorf("-L: bad URL %q", fl.url))
		}
		if u.Scheme == "unix" {
			raw = fl.url
		} else {
			urlTopic = strings.TrimPrefix(u.Path, "/")
			u.Path = ""
			raw = u.String()
		}
		tlsOn = tlsOn || u.Scheme == "mqtts" || u.Scheme == "wss"
	}
	if fl.unix != "" {
		raw = (&url.URL{Scheme: "unix", Path: fl.unix}).String()
	}
	if fl.bindAddr != "" {
		ip := net.ParseIP(fl.bindAddr)
		if ip == nil {
			return nil, "", usageErr(fmt.Errorf("-A: %q is not an IP address", fl.bindAddr))
		}
		opts.Dialer = &net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}
	}
	opts.Version = fl.protocol()
	opts.ClientID = fl.id
	if fl.idPrefix != "" {
		opts.ClientID = fl.idPrefix + strconv.Itoa(os.Getpid())
	}
	if opts.ClientID == "" {
		opts.ClientID = prefix + "-" + randomHex(6)
	}
	opts.CleanStart = !fl.persistent
	opts.KeepAlive = time.Duration(fl.keepalive) * time.Second
	opts.Username = fl.username
	if fl.password != "" {
		opts.Password = []byte(fl.password)
	}
	exp := fl.sessionExpiry
	if fl.parsed.sessionExpiry >= 0 {
		exp = fl.parsed.sessionExpiry
	}
	if exp < 0 && fl.persistent {
		exp = 0xffffffff
	}
	if exp > 0 {
		opts.SessionExpiry = time.Duration(exp) * time.Second
	}
	opts.UserProperties = fl.parsed.connect
	if fl.willTopic != "" {
		opts.Will = &client.Message{Topic: fl.willTopic, Payload: []byte(fl.willPayload),
			QoS: byte(fl.willQoS), Retain: fl.willRetain}
	}
	if tlsOn {
		cfg, err := fl.tlsConfig()
		if err != nil {
			return nil, "", usageErr(err)
		}
		opts.TLSConfig = cfg
	}
	fl.debugf("connecting to %s as %q (MQTT %v)", raw, opts.ClientID, opts.Version)
	c, err := client.Dial(ctx, raw, opts)
	if err != nil {
		return nil, "", runtimeErr(err)
	}
	fl.debugf("connected (session present: %v)", c.SessionPresent())
	return c, urlTopic, nil
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

func (fl *clientFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{}
	if v, _ := tlsVersionOf(fl.tlsVersion); v != 0 {
		cfg.MinVersion, cfg.MaxVersion = v, v
	}
	if fl.cafile != "" || fl.capath != "" || fl.osCerts {
		pool := x509.NewCertPool()
		if fl.osCerts {
			sys, err := x509.SystemCertPool()
			if err != nil {
				return nil, fmt.Errorf("--tls-use-os-certs: %w", err)
			}
			pool = sys
		}
		if fl.cafile != "" {
			pem, err := os.ReadFile(fl.cafile)
			if err != nil {
				return nil, fmt.Errorf("--cafile: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--cafile %s: no PEM certificates", fl.cafile)
			}
		}
		if fl.capath != "" {
			if err := addCertDir(pool, fl.capath); err != nil {
				return nil, err
			}
		}
		cfg.RootCAs = pool
	}
	if fl.insecure {
		// As mosquitto's --insecure: the chain is verified, the name is not.
		cfg.InsecureSkipVerify = true //nolint:gosec // the chain is verified below
		roots := cfg.RootCAs
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	if fl.cert != "" || fl.key != "" {
		if fl.cert == "" || fl.key == "" {
			return nil, errors.New("--cert and --key go together")
		}
		kp, err := tls.LoadX509KeyPair(fl.cert, fl.key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// addCertDir adds every PEM certificate in the files of dir to pool.
func addCertDir(pool *x509.CertPool, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--capath: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		pem, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("--capath: %w", err)
		}
		if pool.AppendCertsFromPEM(pem) {
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("--capath %s: no PEM certificates", dir)
	}
	return nil
}

// tlsVersionOf maps --tls-version to a crypto/tls version; 0 for "".
func tlsVersionOf(s string) (uint16, error) {
	switch s {
	case "":
		return 0, nil
	case "tlsv1.3":
		return tls.VersionTLS13, nil
	case "tlsv1.2":
		return tls.VersionTLS12, nil
	case "tlsv1.1":
		return tls.VersionTLS11, nil
	}
	return 0, fmt.Errorf("--tls-version: unknown version %q (want tlsv1.3, tlsv1.2 or tlsv1.1)", s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// timeoutCtx applies -W to ctx.
func (fl *clientFlags) timeoutCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if fl.timeout > 0 {
		return context.WithTimeout(ctx, time.Duration(fl.timeout)*time.Second)
	}
	return context.WithCancel(ctx)
}

// disconnect ends the connection politely.
func disconnect(c *client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Disconnect(ctx, packet.NormalDisconnection)
}

// withOptionsFile reads the file of pub's, sub's or req's -o FILE (or
// --options-file) and puts its options before the command line's, so those
// on the command line win for single-valued flags, and repeatable ones
// (-t, -D) add up, as with mosquitto's client config files. The file holds
// options as typed on a command line, any number per line; a line whose
// first non-blank character is '#' is a comment; words may be quoted with
// ' or ".
func withOptionsFile(args []string) ([]string, error) {
	if len(args) == 0 || !slices.Contains([]string{"pub", "sub", "req"}, args[0]) {
		return args, nil
	}
	file := ""
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if (a == "-o" || a == "--options-file") && i+1 < len(args) {
			file = args[i+1]
			break
		}
		if v, ok := strings.CutPrefix(a, "--options-file="); ok {
			file = v
			break
		}
	}
	if file == "" {
		return args, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-o: %w", err)
	}
	var words []string
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		w, err := splitWords(line)
		if err != nil {
			return nil, fmt.Errorf("-o %s:%d: %w", file, n+1, err)
		}
		words = append(words, w...)
	}
	out := make([]string, 0, len(args)+len(words))
	out = append(out, args[0])
	out = append(out, words...)
	return append(out, args[1:]...), nil
}

// splitWords splits a line into words at blanks, keeping what single or
// double quotes enclose together; a backslash outside single quotes takes
// the next character as it is.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != '\'' && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

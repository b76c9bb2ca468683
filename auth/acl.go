package auth

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"strings"

	"github.com/roostmq/roost/broker"
	"github.com/roostmq/roost/topic"
)

// ACLFile authorizes from a Mosquitto-style ACL file:
//
//	# comment
//	topic read sensors/#          lines before any section: clients without a username
//	user alice                    the rules below apply to username alice
//	topic readwrite alice/#
//	topic deny alice/secret
//	clientid meter-7              the rules below apply to client id meter-7
//	topic write meters/7/#
//	everyone                      the rules below apply to every client
//	topic read public/#
//	anonymous                     the rules below apply to clients without a username
//	topic read status
//	pattern write devices/%c/#    a pattern applies to every client, wherever it stands
//	pattern read users/%u/#
//
// The access word may be left out ("topic sensors/#" means readwrite).
// "read" grants subscribing and receiving, "write" publishing, "readwrite"
// both, "deny" refuses both, whatever else allows them.
//
// A client's rules are those of its username, of its client id, of
// "anonymous" when it has no username, of "everyone", and the patterns.
// A matching deny rule denies; otherwise a matching grant allows; otherwise
// the file has no opinion (the Chain's default decides, deny unless
// configured).
//
// Subscribing to a filter is allowed when a read rule covers every topic the
// filter can match ("sensors/+" under "sensors/#", not "#" under
// "sensors/#"); it is denied when a deny rule covers the whole filter. A
// filter that covers a denied topic only in part is allowed, and the broker
// checks every delivery ("receive"), live, retained or through a $share
// group, so the denied topic never reaches the client.
//
// In patterns, %c stands for the client id and %u for the username, each
// inserted as literal text. A grant pattern does not apply to a client whose
// id (for %c) or username (for %u) is empty or contains '+', '#' or '/', so
// that no one can widen a pattern by choosing their name; a deny pattern
// then applies with the whole level in place of the name widened to '+', so
// that no one can narrow a deny either. Wildcard rules never match topics
// starting with '$'; $SYS/# is readable only where a rule names it.
type ACLFile struct {
	w watched[aclRules]
	// RefuseWildcards refuses a subscription that no grant covers whole;
	// false (the default, as Mosquitto) grants it when some topic it can
	// match is readable, and deliveries are then checked one by one
	// (Config.WildcardSubscriptions). Either way a denial refuses a
	// subscription it covers whole. Set it before use.
	RefuseWildcards bool
}

type perm uint8

const (
	permRead  perm = 1 << iota
	permWrite      // publish
	permDeny
)

type aclRule struct {
	perm    perm
	filter  string
	pattern bool // filter holds %c or %u
}

type aclRules struct {
	users     map[string][]aclRule
	clients   map[string][]aclRule
	anonymous []aclRule
	everyone  []aclRule
	patterns  []aclRule
}

// LoadACLFile reads the ACL file at path. Errors name the line. The file
// is re-read when it changes.
func LoadACLFile(path string, log *slog.Logger) (*ACLFile, error) {
	a := &ACLFile{w: watched[aclRules]{path: path, parse: parseACL, log: log}}
	if err := a.w.load(); err != nil {
		return nil, err
	}
	return a, nil
}

// ParseACL parses ACL file contents (see ACLFile), for tests and checks.
func ParseACL(data []byte) (*ACLFile, error) {
	r, err := parseACL(data)
	if err != nil {
		return nil, err
	}
	a := &ACLFile{w: watched[aclRules]{interval: 1 << 62}}
	a.w.val.Store(r)
	a.w.checked.Store(1 << 62)
	return a, nil
}

var permWords = map[string]perm{"read": permRead, "write": permWrite, "readwrite": permRead | permWrite, "deny": permDeny}

func parseACL(data []byte) (*aclRules, error) {
	r := &aclRules{users: map[string][]aclRule{}, clients: map[string][]aclRule{}}
	var section map[string][]aclRule // users or clients while in such a section
	var name string
	cur := &r.anonymous
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch word {
		case "user", "clientid":
			if rest == "" {
				return nil, fmt.Errorf("line %d: %s needs a name", n, word)
			}
			section, name, cur = r.users, rest, nil
			if word == "clientid" {
				section = r.clients
			}
			if _, ok := section[name]; !ok {
				section[name] = nil
			}
		case "everyone":
			section, cur = nil, &r.everyone
		case "anonymous":
			section, cur = nil, &r.anonymous
		case "topic", "pattern":
			rule, err := parseRule(rest, word == "pattern")
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			switch {
			case word == "pattern":
				r.patterns = append(r.patterns, rule)
			case section != nil:
				section[name] = append(section[name], rule)
			default:
				*cur = append(*cur, rule)
			}
		default:
			return nil, fmt.Errorf("line %d: unknown keyword %q (want topic, pattern, user, clientid, everyone or anonymous)", n, word)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

func parseRule(s string, pattern bool) (aclRule, error) {
	rule := aclRule{perm: permRead | permWrite, pattern: pattern}
	word, rest, ok := strings.Cut(s, " ")
	if p, known := permWords[word]; known && ok {
		rule.perm = p
		s = strings.TrimSpace(rest)
	}
	if s == "" {
		return rule, fmt.Errorf("missing topic")
	}
	check := s
	if pattern {
		check = strings.NewReplacer("%c", "x", "%u", "x").Replace(s)
	}
	if err := topic.ValidFilter(check); err != nil {
		return rule, fmt.Errorf("%q is not a valid topic filter: %v", s, err)
	}
	rule.filter = s
	return rule, nil
}

var _ ACLChecker = (*ACLFile)(nil)

// CheckACL implements ACLChecker.
func (a *ACLFile) CheckACL(clientID, username string, access broker.Access, name string) Result {
	r := a.w.get()
	need := permRead
	if access == broker.AccessPublish {
		need = permWrite
	}
	allowed := false
	eval := func(rules []aclRule) bool { // true: denied
		for i := range rules {
			rule := &rules[i]
			filter := rule.filter
			if rule.pattern {
				var ok bool
				if filter, ok = substitute(filter, clientID, username, rule.perm&permDeny != 0); !ok {
					continue
				}
			}
			if rule.perm&permDeny != 0 {
				if applies(filter, name, access, false) {
					return true
				}
				continue
			}
			if !allowed && rule.perm&need != 0 && applies(filter, name, access, !a.RefuseWildcards) {
				allowed = true
			}
		}
		return false
	}
	if username != "" {
		if eval(r.users[username]) {
			return Deny
		}
	} else if eval(r.anonymous) {
		return Deny
	}
	if eval(r.clients[clientID]) || eval(r.everyone) || eval(r.patterns) {
		return Deny
	}
	if allowed {
		return Allow
	}
	return NoOpinion
}

// applies reports whether a rule with filter f decides access to name (a
// topic, or a subscription's filter). For a subscription a denial applies
// when it covers the whole filter, and so does a grant, unless partial is
// set (wildcard_subscriptions: filter): then a grant applies when some topic
// it grants lies in the filter. Deliveries are checked one by one.
func applies(f, name string, access broker.Access, partial bool) bool {
	if access != broker.AccessSubscribe {
		return topic.Match(f, name)
	}
	if partial {
		return topic.Overlaps(f, name)
	}
	return topic.Subsumes(f, name)
}

// substitute replaces %c and %u in a pattern. A value that is empty or
// contains '+', '#' or '/' makes a grant pattern not apply (ok false) and
// turns the level of a deny pattern into '+'.
func substitute(pattern, clientID, username string, deny bool) (string, bool) {
	bad := func(v string) bool { return v == "" || strings.ContainsAny(v, "+#/") }
	levels := strings.Split(pattern, "/")
	for i, l := range levels {
		if !strings.Contains(l, "%") {
			continue
		}
		if (strings.Contains(l, "%c") && bad(clientID)) || (strings.Contains(l, "%u") && bad(username)) {
			if !deny {
				return "", false
			}
			levels[i] = "+"
			continue
		}
		levels[i] = strings.NewReplacer("%c", clientID, "%u", username).Replace(l)
	}
	return strings.Join(levels, "/"), true
}

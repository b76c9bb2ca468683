// Package topic validates MQTT topic names and topic filters, matches names
// against filters, and indexes subscriptions and retained messages.
//
// Spec IDs in comments name the statement enforced. Where MQTT 3.1.1 and 5.0
// number the same rule differently both are given, 3.1.1 first, e.g.
// [MQTT-4.7.1-2] (3.1.1) is [MQTT-4.7.1-1] in 5.0.
//
// The package imports only the standard library. UTF-8 well-formedness
// ([MQTT-1.5.3-1], [MQTT-1.5.4-1]) is checked by the packet decoder, which
// sees every string; this package checks only what is specific to topics.
package topic

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest topic name or filter MQTT can encode, in bytes
// [MQTT-4.7.3-3].
const MaxLen = 65535

// SharePrefix starts every shared-subscription filter [MQTT-4.8.2-1].
const SharePrefix = "$share/"

// Errors returned by the validation functions. Returned errors may wrap
// these with more detail; test with errors.Is.
var (
	ErrEmpty          = errors.New("topic: empty topic name or filter")
	ErrTooLong        = errors.New("topic: too long")
	ErrTooManyLevels  = errors.New("topic: too many levels")
	ErrNullChar       = errors.New("topic: contains U+0000")
	ErrWildcardInName = errors.New("topic: wildcard + or # in a topic name")
	ErrBadWildcard    = errors.New("topic: + must fill a whole level; # must fill the last level")
	ErrBadShare       = errors.New("topic: malformed shared subscription, want $share/{name}/{filter}")
)

// ValidName reports whether name may be used as the topic name of a PUBLISH
// (or a Will topic). It returns nil or one of ErrEmpty, ErrTooLong,
// ErrNullChar and ErrWildcardInName.
func ValidName(name string) error {
	if len(name) == 0 {
		return ErrEmpty // [MQTT-4.7.3-1]
	}
	if len(name) > MaxLen {
		return ErrTooLong // [MQTT-4.7.3-3]
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '+', '#':
			// [MQTT-3.3.2-2] [MQTT-4.7.1-1] (3.1.1), [MQTT-4.7.0-1] (5.0)
			return ErrWildcardInName
		case 0:
			return ErrNullChar // [MQTT-4.7.3-2]
		}
	}
	return nil
}

// ValidFilter reports whether filter is a well-formed topic filter. It
// checks the filter syntax only: a "$share/..." filter is checked as an
// ordinary filter here; use ParseShared to check it as a shared one. It
// returns nil or one of ErrEmpty, ErrTooLong, ErrNullChar and ErrBadWildcard.
func ValidFilter(filter string) error {
	if len(filter) == 0 {
		return ErrEmpty // [MQTT-4.7.3-1]
	}
	if len(filter) > MaxLen {
		return ErrTooLong // [MQTT-4.7.3-3]
	}
	for i := 0; i < len(filter); i++ {
		switch filter[i] {
		case 0:
			return ErrNullChar // [MQTT-4.7.3-2]
		case '+':
			// [MQTT-4.7.1-3] (3.1.1), [MQTT-4.7.1-2] (5.0): + fills its level.
			if (i > 0 && filter[i-1] != '/') || (i+1 < len(filter) && filter[i+1] != '/') {
				return ErrBadWildcard
			}
		case '#':
			// [MQTT-4.7.1-2] (3.1.1), [MQTT-4.7.1-1] (5.0): # alone or after
			// '/', and the last character.
			if (i > 0 && filter[i-1] != '/') || i != len(filter)-1 {
				return ErrBadWildcard
			}
		}
	}
	return nil
}

// ParseShared splits a subscription filter. For "$share/{group}/{filter}" it
// returns the group, the inner filter and shared == true; for any other
// filter it returns "", filter, false. Either way err is nil only when the
// filter is valid: the inner (or plain) filter must pass ValidFilter, and a
// shared filter needs a non-empty group without '/', '+' or '#' followed by
// '/' and a non-empty filter [MQTT-4.8.2-1] [MQTT-4.8.2-2]. Malformed shared
// filters return ErrBadShare (or the inner filter's error, wrapped).
func ParseShared(filter string) (group, inner string, shared bool, err error) {
	if !strings.HasPrefix(filter, SharePrefix) {
		return "", filter, false, ValidFilter(filter)
	}
	rest := filter[len(SharePrefix):]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		// [MQTT-4.8.2-2] the share name must be followed by '/'.
		return "", "", true, fmt.Errorf("%w: no '/' after the share name", ErrBadShare)
	}
	group, inner = rest[:slash], rest[slash+1:]
	if group == "" {
		return "", "", true, fmt.Errorf("%w: empty share name", ErrBadShare) // [MQTT-4.8.2-1]
	}
	if strings.ContainsAny(group, "+#") {
		// [MQTT-4.8.2-2] no '/', '+' or '#' in the share name ('/' ends it).
		return "", "", true, fmt.Errorf("%w: wildcard in share name %q", ErrBadShare, group)
	}
	if strings.IndexByte(group, 0) >= 0 {
		return "", "", true, ErrNullChar // [MQTT-4.7.3-2]
	}
	if inner == "" {
		return "", "", true, fmt.Errorf("%w: empty topic filter", ErrBadShare) // [MQTT-4.8.2-2]
	}
	if err := ValidFilter(inner); err != nil {
		return "", "", true, fmt.Errorf("%w: %w", ErrBadShare, err)
	}
	return group, inner, true, nil
}

// Levels returns the number of levels in a topic name or filter: one more
// than the number of '/' separators. The empty string has no levels.
func Levels(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, "/") + 1
}

// CheckLimits checks a name or filter against configured limits: at most
// maxLen bytes and at most maxLevels levels. A limit <= 0 is not checked;
// MaxLen always applies [MQTT-4.7.3-3]. Errors wrap ErrTooLong or
// ErrTooManyLevels.
func CheckLimits(s string, maxLen, maxLevels int) error {
	if maxLen <= 0 || maxLen > MaxLen {
		maxLen = MaxLen
	}
	if len(s) > maxLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, len(s), maxLen)
	}
	if maxLevels > 0 {
		if n := Levels(s); n > maxLevels {
			return fmt.Errorf("%w: %d levels, limit %d", ErrTooManyLevels, n, maxLevels)
		}
	}
	return nil
}

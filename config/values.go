package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/roostmq/roost/broker"
	"go.yaml.in/yaml/v3"
)

// Decoders for scalar values. Each reports a wrong type or a bad value at the
// value's line and leaves the target unchanged.

// integer returns the value of an integer node in [lo, hi].
func (d *decoder) integer(path string, n *yaml.Node, lo, hi int64) (int64, bool) {
	s := d.scalar(path, n, "an integer")
	if s == nil {
		return 0, false
	}
	if s.ShortTag() != "!!int" {
		d.fail(s, path, "expected an integer, got %s", describe(s))
		return 0, false
	}
	v, err := strconv.ParseInt(s.Value, 0, 64)
	if err != nil {
		d.fail(s, path, "%s is out of range (%d to %d)", s.Value, lo, hi)
		return 0, false
	}
	if v < 0 && lo >= 0 {
		d.fail(s, path, "%d must not be negative", v)
		return 0, false
	}
	if v < lo || v > hi {
		d.fail(s, path, "%d is out of range (%d to %d)", v, lo, hi)
		return 0, false
	}
	return v, true
}

func (d *decoder) intField(p *int) handler {
	return func(path string, n *yaml.Node) {
		if v, ok := d.integer(path, n, 0, math.MaxInt); ok {
			*p = int(v)
		}
	}
}

func (d *decoder) uint16Field(p *uint16) handler {
	return func(path string, n *yaml.Node) {
		if v, ok := d.integer(path, n, 0, math.MaxUint16); ok {
			*p = uint16(v)
		}
	}
}

func (d *decoder) boolField(p *bool) handler {
	return func(path string, n *yaml.Node) {
		s := d.scalar(path, n, "true or false")
		if s == nil {
			return
		}
		if s.ShortTag() != "!!bool" {
			d.fail(s, path, "expected true or false, got %s", describe(s))
			return
		}
		v, err := strconv.ParseBool(s.Value)
		if err != nil { // YAML 1.1 spellings such as "on" are not booleans in YAML 1.2
			d.fail(s, path, "expected true or false, got %q", s.Value)
			return
		}
		*p = v
	}
}

// takeoverField reads sessions.takeover_same_user: true (same user only),
// false (any user) or auto (same user only when clients authenticate).
func (d *decoder) takeoverField(p *broker.Sessions) handler {
	return func(path string, n *yaml.Node) {
		s := d.scalar(path, n, "true, false or auto")
		if s == nil {
			return
		}
		if s.ShortTag() == "!!str" && s.Value == "auto" {
			p.TakeoverSameUser, p.TakeoverAnyUser = false, false
			return
		}
		v, err := strconv.ParseBool(s.Value)
		if s.ShortTag() != "!!bool" || err != nil {
			d.fail(s, path, "expected true, false or auto, got %s", describe(s))
			return
		}
		p.TakeoverSameUser, p.TakeoverAnyUser = v, !v
	}
}

func (d *decoder) stringValue(path string, n *yaml.Node) (string, bool) {
	s := d.scalar(path, n, "a string")
	if s == nil {
		return "", false
	}
	if s.ShortTag() != "!!str" {
		d.fail(s, path, "expected a string, got %s", describe(s))
		return "", false
	}
	return s.Value, true
}

func (d *decoder) stringField(p *string) handler {
	return func(path string, n *yaml.Node) {
		if v, ok := d.stringValue(path, n); ok {
			*p = v
		}
	}
}

// choice decodes a string that must be one of options.
func (d *decoder) choice(path string, n *yaml.Node, options ...string) (string, bool) {
	v, ok := d.stringValue(path, n)
	if !ok {
		return "", false
	}
	for _, o := range options {
		if v == o {
			return v, true
		}
	}
	d.fail(resolve(n), path, "%q is not one of %s", v, strings.Join(options, ", "))
	return "", false
}

// duration decodes a non-negative Go duration string ("30s", "1h30m"); a
// bare 0 is accepted too.
func (d *decoder) duration(path string, n *yaml.Node) (time.Duration, bool) {
	s := d.scalar(path, n, "a duration")
	if s == nil {
		return 0, false
	}
	switch s.ShortTag() {
	case "!!str":
	case "!!int":
		if v, err := strconv.ParseInt(s.Value, 0, 64); err == nil && v == 0 {
			return 0, true
		}
		d.fail(s, path, "%s is not a duration: add a unit, as in \"%ss\"", s.Value, s.Value)
		return 0, false
	default:
		d.fail(s, path, "expected a duration such as \"30s\", got %s", describe(s))
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(s.Value))
	if err != nil {
		d.fail(s, path, "%q is not a duration (such as \"500ms\", \"30s\", \"10m\", \"168h\")", s.Value)
		return 0, false
	}
	if v < 0 {
		d.fail(s, path, "%q must not be negative", s.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) durationField(p *time.Duration) handler {
	return func(path string, n *yaml.Node) {
		if v, ok := d.duration(path, n); ok {
			*p = v
		}
	}
}

// secondsField decodes a duration into whole seconds that fit in a uint16.
func (d *decoder) secondsField(p *uint16) handler {
	return func(path string, n *yaml.Node) {
		v, ok := d.duration(path, n)
		if !ok {
			return
		}
		switch {
		case v%time.Second != 0:
			d.fail(resolve(n), path, "%s is not a whole number of seconds", v)
		case v > math.MaxUint16*time.Second:
			d.fail(resolve(n), path, "%s is more than %d seconds", v, math.MaxUint16)
		default:
			*p = uint16(v / time.Second)
		}
	}
}

// sizeField decodes a size: an integer number of bytes or a string such as
// "512KB" or "4MiB".
func (d *decoder) sizeField(p *int) handler {
	return func(path string, n *yaml.Node) {
		s := d.scalar(path, n, "a size")
		if s == nil {
			return
		}
		switch s.ShortTag() {
		case "!!int":
			if v, ok := d.integer(path, s, 0, math.MaxInt); ok {
				*p = int(v)
			}
		case "!!str":
			v, err := parseSize(s.Value)
			if err != nil {
				d.fail(s, path, "%q %s", s.Value, err)
				return
			}
			*p = v
		default:
			d.fail(s, path, "expected a size such as \"4MiB\", got %s", describe(s))
		}
	}
}

// sizeUnits are the units parseSize accepts, matched without regard to case.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
}

// parseSize reads a size in bytes: digits, then optionally spaces and a unit
// (B, KB, MB, GB, KiB, MiB, GiB). The error reads after the quoted input.
func parseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	mult, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	if i == 0 || !ok {
		return 0, fmt.Errorf("is not a size")
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n > int64(math.MaxInt)/mult {
		return 0, fmt.Errorf("is too large")
	}
	return int(n * mult), nil
}

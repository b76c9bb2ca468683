package topic

import "strings"

// Match reports whether the topic name matches the topic filter. Both are
// assumed valid (see ValidName and ValidFilter); for invalid input the
// result is unspecified but Match does not panic. Match does not allocate.
//
//   - '+' matches exactly one level, which may be empty.
//   - '#' matches the rest of the name, including the parent level:
//     "sport/#" matches "sport" [MQTT-4.7.1-2] (3.1.1), [MQTT-4.7.1-1] (5.0).
//   - A name starting with '$' is not matched by a filter whose first level
//     is '+' or '#' [MQTT-4.7.2-1].
//   - Levels compare as exact bytes, with no normalisation [MQTT-4.7.3-4].
func Match(filter, name string) bool {
	if len(filter) == 0 || len(name) == 0 {
		return false
	}
	if name[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		// filter and name each start at the beginning of a level here.
		if len(filter) > 0 && filter[0] == '#' {
			return true
		}
		fe := strings.IndexByte(filter, '/')
		ne := strings.IndexByte(name, '/')
		flevel, nlevel := filter, name
		if fe >= 0 {
			flevel = filter[:fe]
		}
		if ne >= 0 {
			nlevel = name[:ne]
		}
		if flevel != "+" && flevel != nlevel { // [MQTT-4.7.3-4] exact bytes
			return false
		}
		switch {
		case fe < 0 && ne < 0:
			return true
		case ne < 0:
			// The name ends first: only a final "#" still matches, as the
			// parent level [MQTT-4.7.1-2].
			return filter[fe+1:] == "#"
		case fe < 0:
			return false
		}
		filter, name = filter[fe+1:], name[ne+1:]
	}
}

// nextLevel splits s at its first '/': the first level, the rest after the
// separator, and whether the level was the last one.
func nextLevel(s string) (level, rest string, last bool) {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return s, "", true
	}
	return s[:i], s[i+1:], false
}

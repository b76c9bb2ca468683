package topic

// listMapMin is the length above which a subList keeps a key-to-position
// map, so that subscribing and unsubscribing stay O(1) when many clients
// share one filter.
const listMapMin = 8

// subList holds the ordinary subscriptions of one filter, one per key. It
// is guarded by the Index's mutex; Match copies items out under the read
// lock, so items may be changed in place.
type subList[K comparable] struct {
	items []Sub[K]
	pos   map[K]int // position of each key in items; nil while short
}

func (l *subList[K]) find(key K) int {
	if l.pos != nil {
		if i, ok := l.pos[key]; ok {
			return i
		}
		return -1
	}
	for i := range l.items {
		if l.items[i].Key == key {
			return i
		}
	}
	return -1
}

func (l *subList[K]) add(s Sub[K]) {
	l.items = append(l.items, s)
	switch {
	case l.pos != nil:
		l.pos[s.Key] = len(l.items) - 1
	case len(l.items) > listMapMin:
		l.pos = make(map[K]int, len(l.items))
		for i := range l.items {
			l.pos[l.items[i].Key] = i
		}
	}
}

// remove deletes items[i], moving the last item into its place.
func (l *subList[K]) remove(i int) {
	last := len(l.items) - 1
	if l.pos != nil {
		delete(l.pos, l.items[i].Key)
	}
	if i != last {
		l.items[i] = l.items[last]
		if l.pos != nil {
			l.pos[l.items[i].Key] = i
		}
	}
	l.items[last] = Sub[K]{} // drop the reference held by the key
	l.items = l.items[:last]
	if last == 0 {
		l.items, l.pos = nil, nil
	}
}

package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/roostmq/roost/broker"
)

// BanJSON is one ban: kind client_id, username or ip (an address or a CIDR
// prefix); until, when set, ends it.
type BanJSON struct {
	Kind  string     `json:"kind"`
	Value string     `json:"value"`
	Until *time.Time `json:"until,omitempty"`
}

var banKinds = map[string]broker.BanKind{
	broker.BanClientID.String(): broker.BanClientID,
	broker.BanUsername.String(): broker.BanUsername,
	broker.BanIP.String():       broker.BanIP,
}

func (s *Server) listBans(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Bans []BanJSON `json:"bans"`
	}{Bans: []BanJSON{}}
	for _, b := range s.opts.Broker.Bans() {
		bj := BanJSON{Kind: b.Kind.String(), Value: b.Value}
		if !b.Until.IsZero() {
			u := b.Until
			bj.Until = &u
		}
		out.Bans = append(out.Bans, bj)
	}
	writeJSON(w, http.StatusOK, out)
}

// addBan adds or replaces a ban; connected clients it matches are
// disconnected (5.0: DISCONNECT 0x98). The broker saves it in the store,
// so it holds after a restart (500 if it could not, though it is in force).
func (s *Server) addBan(w http.ResponseWriter, r *http.Request) {
	var bj BanJSON
	if !readJSON(w, r, &bj) {
		return
	}
	kind, ok := banKinds[bj.Kind]
	if !ok {
		writeError(w, http.StatusBadRequest, "kind: want client_id, username or ip")
		return
	}
	b := broker.Ban{Kind: kind, Value: bj.Value}
	if bj.Until != nil {
		b.Until = *bj.Until
	}
	if err := s.opts.Broker.Ban(b); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, broker.ErrBanNotStored) {
			code = http.StatusInternalServerError
		}
		writeError(w, code, err.Error())
		return
	}
	s.log.Info("admin: ban added", "kind", bj.Kind, "value", bj.Value, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, bj)
}

// deleteBan: ?kind=&value=.
func (s *Server) deleteBan(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind, ok := banKinds[q.Get("kind")]
	if !ok {
		writeError(w, http.StatusBadRequest, "kind: want client_id, username or ip")
		return
	}
	if !s.opts.Broker.Unban(kind, q.Get("value")) {
		writeError(w, http.StatusNotFound, "no such ban")
		return
	}
	s.log.Info("admin: ban removed", "kind", q.Get("kind"), "value", q.Get("value"), "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"removed": q.Get("value")})
}

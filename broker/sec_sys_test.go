package broker

import (
	"testing"

	"github.com/roostmq/roost/packet"
)

// secAllowSys is an Authorizer that allows everything, $SYS included: an
// embedder's (or an ACL's) explicit allow.
type secAllowSys struct{}

func (secAllowSys) Authorize(_, _ string, _ Access, _ string) bool { return true }

// Without an Authorizer (and with only a DenyList) a client cannot publish
// into $SYS, retained or not, at any QoS; 5.0 is told 0x87, 3.1.1 is
// acknowledged and the message dropped. Subscribing to $SYS/# still works
// and the broker's own $SYS messages still arrive. A will into $SYS is
// refused at CONNECT.
func TestSecSysPublishRefusedByDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Options)
	}{
		{"no authorizer", nil},
		{"deny list", func(o *Options) { o.Authorizer = &DenyList{Publish: []string{"other"}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startServer(t, tc.mod)
			eachVersion(t, func(t *testing.T, v packet.Version) {
				watcher := clean(t, addr, v, "sys-watcher-"+vname(v))
				eq(t, "SUBACK", watcher.subscribe(sub("$SYS/#", 1), sub("$SYSTEM/x", 0)), []packet.ReasonCode{1, 0})
				p := clean(t, addr, v, "sys-writer-"+vname(v))
				want := packet.NotAuthorized
				if v != packet.V5 {
					want = packet.Success
				}
				p.send(&packet.Publish{Topic: []byte("$SYS/broker/fake"), Payload: []byte("q0"), Retain: true})
				for _, qos := range []byte{1, 2} {
					ack := p.sendPub(&packet.Publish{QoS: qos, Retain: true, Topic: []byte("$SYS/broker/fake"), Payload: []byte("q")})
					eq(t, "acknowledgement code", code(ack), want)
					if qos == 2 && v != packet.V5 {
						p.send(&packet.Pubrel{Ack: packet.Ack{PacketID: ack.(*packet.Pubrec).PacketID}})
						p.expect(packet.PUBCOMP)
					}
				}
				p.sendPub(&packet.Publish{QoS: 1, Topic: []byte("$SYS"), Payload: []byte("q")})
				// The broker's own $SYS publication is the next (only) thing the watcher sees.
				barrier(t, s, watcher, "$SYS/broker/marker")
				late := clean(t, addr, v, "sys-late-"+vname(v))
				late.subscribe(sub("$SYS/broker/fake", 0))
				barrier(t, s, late, "$SYS/broker/fake") // no retained message came first

				mustRefuse(t, addr, v, withWill(&packet.Connect{ClientID: []byte("sys-will"), CleanStart: true}, "$SYS/will", "x", 0, false),
					map[packet.Version]packet.ReasonCode{packet.V5: packet.NotAuthorized, packet.V311: 5}[v])
				watcher.expectPub("$SYS/broker/fake", "marker") // the late subscriber's barrier
				// A topic merely starting with $SYS is not in the tree.
				p.publish("$SYSTEM/x", "ok", 1, false)
				watcher.expectPub("$SYSTEM/x", "ok")
			})
		})
	}
}

// An Authorizer that allows $SYS explicitly lets a client publish there.
func TestSecSysPublishExplicitAllow(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.Authorizer = secAllowSys{} })
	watcher := clean(t, addr, packet.V5, "sys-watcher")
	watcher.subscribe(sub("$SYS/#", 0))
	p := clean(t, addr, packet.V5, "sys-writer")
	eq(t, "PUBACK", code(p.sendPub(&packet.Publish{QoS: 1, Topic: []byte("$SYS/custom"), Payload: []byte("x")})), packet.Success)
	watcher.expectPub("$SYS/custom", "x")
}

package conformance

// Reasons states, per version and statement identifier, why no test proves a
// server-side (S or B) statement. The generated document shows the reason
// where a proof would be. CheckReasons (run by TestConformanceDocUpToDate)
// fails when a reason names a statement a test proves, a client-only
// statement or an identifier that is not in the list: when a test starts
// proving a statement, delete its reason here.
//
// Write the reason, not the statement: never copy the normative text. Usual
// forms: "sender only: ..." (binds whoever sends; Roost never sends it),
// "covered by the codec: ..." (packet-level, proven by packet tests without
// the tag), "not applicable: ...", "not enforced yet: ..." (a known gap) and
// "not implemented yet: ...".
var Reasons = map[Version]map[string]string{
	V311: {
		"MQTT-3.8.3-2": "not applicable: Roost supports wildcard subscriptions",
		"MQTT-7.0.0-1": "not applicable: Roost opens no outbound MQTT connections (no bridge)",
		"MQTT-7.0.0-2": "no single test: Roost needs no extension from its peers; broker/interop_test.go runs unmodified " +
			"third-party clients (paho.mqtt.golang, paho.golang) against it",
	},
	V5: {
		"MQTT-3.2.2-9":  "not applicable: Roost supports QoS 1 and 2, so it sends no Maximum QoS",
		"MQTT-3.2.2-12": "not applicable: Roost supports every Will QoS (a Will QoS of 3 is malformed: MQTT-3.1.2-12)",
		"MQTT-3.15.2-2": "not proven yet: Roost's AUTH packets (broker/auth.go sendAuth) carry only the Authentication Method " +
			"and Data, never a Reason String; the enhanced-authentication tests should take this tag",
		"MQTT-3.15.2-3": "not proven yet: Roost's AUTH packets (broker/auth.go sendAuth) carry only the Authentication Method " +
			"and Data, never User Properties; the enhanced-authentication tests should take this tag",
	},
}

// Package client is Roost's MQTT 3.1.1 and 5.0 client over one net.Conn.
//
// Connect performs the CONNECT / CONNACK exchange (with MQTT 5 enhanced
// authentication when Options.Auth is set) on any net.Conn; Dial opens the
// connection first from a URL (mqtt://, tcp://, mqtts://, ssl://, tls://).
// A Client lives as long as its connection: when the connection ends Done is
// closed and Err says why. client/managed reconnects.
//
// # Goroutines
//
// Each connection has three goroutines:
//   - the reader decodes packets, completes the operations waiting for
//     acknowledgements and answers PUBREL; it never runs user code other than
//     the Auth hook;
//   - the writer is the only goroutine that writes the socket; everything
//     outbound is appended to the connection's queue and written in batches
//     with one vectored write; it also sends the keepalive PINGREQ;
//   - the dispatcher calls Options.OnMessage, one message at a time, in the
//     order the messages arrived, and finally Options.OnDisconnect.
//
// # Back-pressure and acknowledgements
//
// The reader hands messages to the dispatcher through a bounded queue of
// Options.InboxSize messages. When it is full the reader waits, so it stops
// reading the socket and TCP back-pressure reaches the server: no message is
// dropped. A handler therefore must not wait for something only the reader
// can deliver (a PUBACK for its own QoS 1 Publish, say) while the queue may be
// full; start a goroutine for that.
//
// Inbound QoS 1 and 2 messages are acknowledged (PUBACK, PUBREC) after the
// handler returns, by the dispatcher, so a message whose handler did not
// finish before the connection dropped is delivered again by the server
// (on a persistent session). Acknowledgements keep the order of arrival.
package client

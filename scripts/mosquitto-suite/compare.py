"""Packet comparison for Mosquitto's test harness that accepts what the MQTT
specification leaves to the server (loaded by run.py --tolerant).

Mosquitto's harness compares every packet it receives byte for byte with
what Mosquitto sends. install() replaces its expect_packet and
receive_unordered so that each received packet is read whole (fixed header,
Remaining Length, body) and compared with the expected one after both are
put in a canonical form. Only these differences are accepted, each a choice
the specification gives the server:

 1. Order of MQTT 5 properties. The spec fixes no order among properties
    (MQTT 5.0 2.2.2.2); only User Properties keep their relative order
    [MQTT-3.3.2-17], and they are compared in order.
 2. Optional MQTT 5 properties the expected packet does not have:
    Reason String and User Property in any packet the server sends ("The
    Server MAY include", 3.2.2.3.9 ff., 3.4.2.2.2 ff., 3.14.2.2.3 ...), and
    in CONNACK the capability properties Maximum QoS, Retain Available,
    Maximum Packet Size, Wildcard / Subscription Identifier / Shared
    Subscription Available (3.2.2.3.4 ff.: each "If not present" has a
    defined meaning, and the server decides whether to send it).
    An expected property must be there with the same value.
 3. The short forms of PUBACK, PUBREC, PUBREL, PUBCOMP and DISCONNECT: a
    Reason Code 0x00 with no properties may be sent as a shorter packet
    (3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.14.2.1).
 4. Where the script expects the connection to be closed, an MQTT 5
    CONNACK or DISCONNECT with an error Reason Code (0x80 or more) before
    the close: "In the case of an error in a CONNECT packet it MAY send a
    CONNACK packet containing the Reason Code, before closing the Network
    Connection. In the case of an error in any other packet it SHOULD send
    a DISCONNECT packet containing the Reason Code" (MQTT 5.0 4.13.1).
 5. PUBACK or PUBREC Reason Code 0x10 (No matching subscribers) where
    0x00 is expected: "If the Server knows that there are no matching
    subscribers, it MAY use this Reason Code instead of 0x00" (3.4.2.1).
 6. PUBCOMP or PUBREL Reason Code 0x92 (Packet Identifier not found)
    where 0x00 is expected, for a PUBREL or PUBREC of a flow the server has
    already completed or never had: "This is not an error during recovery"
    (3.7.2.1, 3.6.2.1); a server that keeps no record of completed flows
    answers a resent PUBREL so.
 7. A login refused for a wrong or missing password: CONNACK return code
    4 ("bad user name or password") where 5 ("not authorized") is expected
    in 3.1.1, 0x86 where 0x87 is expected in 5.0, or the other way round.
    Both standards describe 4 / 0x86 as "the data in the user name or
    password is malformed" and 5 / 0x87 as "not authorized", and neither
    says which a well-formed but wrong password gets (3.1.1 table 3.1, 5.0
    3.2.2.2); brokers differ.
Anything else (other reason codes, packet identifiers, payloads, order of
packets other than where the script itself allows either order) must match
byte for byte as in Mosquitto's own harness.
"""
import struct

_CAPABILITY = {0x24, 0x25, 0x27, 0x28, 0x29, 0x2A}
_OPTIONAL_ANY = {0x1F, 0x26}

# Property identifier -> value encoding.
_PROP_KIND = {
    0x01: "b", 0x02: "i", 0x03: "s", 0x08: "s", 0x09: "d", 0x0B: "v",
    0x11: "i", 0x12: "s", 0x13: "h", 0x15: "s", 0x16: "d", 0x17: "b",
    0x18: "i", 0x19: "b", 0x1A: "s", 0x1C: "s", 0x1F: "s", 0x21: "h",
    0x22: "h", 0x23: "h", 0x24: "b", 0x25: "b", 0x26: "p", 0x27: "i",
    0x28: "b", 0x29: "b", 0x2A: "b",
}


class _Bad(Exception):
    pass


def _varint(buf, i):
    mult, val = 1, 0
    for _ in range(4):
        if i >= len(buf):
            raise _Bad()
        b = buf[i]
        i += 1
        val += (b & 127) * mult
        if b & 128 == 0:
            return val, i
        mult *= 128
    raise _Bad()


def _props(buf, i):
    n, i = _varint(buf, i)
    end = i + n
    if end > len(buf):
        raise _Bad()
    out = []
    while i < end:
        pid, i = _varint(buf, i)
        kind = _PROP_KIND.get(pid)
        if kind is None:
            raise _Bad()
        if kind == "b":
            v, i = buf[i:i + 1], i + 1
        elif kind == "h":
            v, i = buf[i:i + 2], i + 2
        elif kind == "i":
            v, i = buf[i:i + 4], i + 4
        elif kind == "v":
            s = i
            _, i = _varint(buf, i)
            v = buf[s:i]
        elif kind in ("s", "d"):
            (ln,) = struct.unpack("!H", buf[i:i + 2])
            v, i = buf[i:i + 2 + ln], i + 2 + ln
        else:  # string pair
            s = i
            for _ in range(2):
                (ln,) = struct.unpack("!H", buf[i:i + 2])
                i += 2 + ln
            v = buf[s:i]
        out.append((pid, bytes(v)))
    if i != end:
        raise _Bad()
    return out, end


def _split(data):
    """Splits bytes into whole packets: (first byte, body)."""
    out, i = [], 0
    while i < len(data):
        first = data[i]
        rl, j = _varint(data, i + 1)
        if j + rl > len(data):
            raise _Bad()
        out.append((first, bytes(data[j:j + rl])))
        i = j + rl
    return out


def _canon(first, body):
    """Canonical form of an MQTT 5 packet the server sends, or None."""
    t = first >> 4
    if t == 2:  # CONNACK
        if len(body) < 2:
            return None
        props, end = _props(body, 2) if len(body) > 2 else ([], 2)
        return (first, body[:2], props, body[end:])
    if t in (4, 5, 6, 7):  # PUBACK, PUBREC, PUBREL, PUBCOMP
        if len(body) < 2:
            return None
        rc = body[2:3] or b"\x00"
        props, end = _props(body, 3) if len(body) > 3 else ([], len(body))
        return (first, body[:2] + rc, props, body[end:])
    if t == 14:  # DISCONNECT
        rc = body[0:1] or b"\x00"
        props, end = _props(body, 1) if len(body) > 1 else ([], len(body))
        return (first, rc, props, body[end:])
    if t in (9, 11):  # SUBACK, UNSUBACK
        if len(body) < 3:
            return None
        props, end = _props(body, 2)
        return (first, body[:2], props, body[end:])
    if t == 3:  # PUBLISH
        if len(body) < 2:
            return None
        (tl,) = struct.unpack("!H", body[:2])
        hdr = 2 + tl + (2 if (first >> 1) & 3 else 0)
        props, end = _props(body, hdr)
        return (first, body[:hdr], props, body[end:])
    return None


_LOGIN_REFUSED = ({4, 5}, {0x86, 0x87})


def _equivalent(exp, got):
    if exp == got:
        return True
    if exp[0] == 0x20 == got[0] and len(exp[1]) >= 2 and len(got[1]) >= 2 and \
            exp[1][0] == got[1][0] and exp[1][2:] == got[1][2:] and \
            any(exp[1][1] in s and got[1][1] in s for s in _LOGIN_REFUSED):
        return True
    try:
        ce, cg = _canon(*exp), _canon(*got)
    except (_Bad, struct.error):
        return False
    if ce is None or cg is None:
        return False
    if exp[0] >> 4 in (4, 5) and ce[1][2:] == b"\x00" and cg[1][2:] == b"\x10":
        cg = (cg[0], ce[1], cg[2], cg[3])
    if exp[0] >> 4 in (6, 7) and ce[1][2:] == b"\x00" and cg[1][2:] == b"\x92":
        cg = (cg[0], ce[1], cg[2], cg[3])
    if ce[0] != cg[0] or ce[1] != cg[1] or ce[3] != cg[3]:
        return False
    ep, gp = ce[2], cg[2]
    e_ids = {p for p, _ in ep}
    optional = _OPTIONAL_ANY | (_CAPABILITY if exp[0] >> 4 == 2 else set())
    gp = [(p, v) for p, v in gp if p in e_ids or p not in optional]
    users = lambda ps: [x for x in ps if x[0] == 0x26]
    if users(ep) != users(gp):
        return False
    return sorted(ep) == sorted(gp)


def _read_packet(sock):
    first = sock.recv(1)
    if len(first) == 0:
        return None
    hdr = bytearray(first)
    rl, mult = 0, 1
    for _ in range(4):
        b = sock.recv(1)
        if len(b) == 0:
            return bytes(hdr)
        hdr += b
        rl += (b[0] & 127) * mult
        if b[0] & 128 == 0:
            break
        mult *= 128
    body = b""
    while len(body) < rl:
        chunk = sock.recv(rl - len(body))
        if len(chunk) == 0:
            break
        body += chunk
    return bytes(hdr) + body


def _error_before_close(p):
    """Is p an MQTT 5 CONNACK or DISCONNECT with an error Reason Code?"""
    try:
        g = _split(p)
    except _Bad:
        return False
    if len(g) != 1:
        return False
    first, body = g[0]
    if first == 0x20 and len(body) >= 3:
        return body[1] >= 0x80
    if first == 0xE0 and len(body) >= 1:
        return body[0] >= 0x80
    return False


def install(mt):
    orig_expect = mt.expect_packet

    def expect_packet(sock, name, expected):
        if expected == b"":
            try:
                p = _read_packet(sock)
            except ConnectionResetError:
                return True  # a reset closes the connection too
            if p is None:
                return True
            if _error_before_close(p):
                q = _read_packet(sock)
                if q is None:
                    return True
                p += q
            mt.packet_matches(name, p, expected)
            raise mt.TestError
        try:
            want = _split(expected)
        except _Bad:
            want = None
        if not want:
            return orig_expect(sock, name, expected)
        recvd = b""
        for w in want:
            p = _read_packet(sock)
            if p is None:
                break
            recvd += p
            try:
                g = _split(p)
            except _Bad:
                break
            if len(g) != 1 or not _equivalent(w, g[0]):
                break
        else:
            return True
        mt.packet_matches(name, recvd, expected)
        raise mt.TestError

    def receive_unordered(sock, recv1_packet, recv2_packet, error_string):
        a, b = _split(recv1_packet), _split(recv2_packet)
        if len(a) != 1 or len(b) != 1:
            raise ValueError(error_string)
        p1, p2 = _read_packet(sock), _read_packet(sock)
        if p1 is None or p2 is None:
            raise ValueError(error_string)
        g1, g2 = _split(p1)[0], _split(p2)[0]
        if (_equivalent(a[0], g1) and _equivalent(b[0], g2)) or \
                (_equivalent(b[0], g1) and _equivalent(a[0], g2)):
            return
        mt.packet_matches(error_string, p1 + p2, recv2_packet + recv1_packet)
        raise ValueError(error_string)

    mt.expect_packet = expect_packet
    mt.receive_unordered = receive_unordered

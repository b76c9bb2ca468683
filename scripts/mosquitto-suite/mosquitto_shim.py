#!/usr/bin/env python3
"""Stand-in for the `mosquitto` executable when Mosquitto's broker test scripts
run against Roost.

Mosquitto's scripts start `../../src/mosquitto -v -c FILE.conf` or
`../../src/mosquitto -v -p PORT`. run.py puts this file there. It translates
the Mosquitto configuration options the scripts use into a Roost YAML file and
execs `roost serve --config` (the binary named by $ROOST_BIN). An option it
cannot translate makes it exit with status 3 and a message naming the option,
so a script needing it fails loudly instead of testing something else.

Mosquitto's defaults that the scripts rely on are set explicitly, because
Roost's defaults differ: Receive Maximum 20 and outbound window 20
(max_inflight_messages), Topic Alias Maximum 10, no packet size limit, client
ids up to 65535 bytes, 1000 queued messages, topics of up to 201 levels (200
separators), sessions kept as long as a client asks, and nothing stored on
disk unless `persistence true`.
"""
import json
import os
import shutil
import sys

IGNORED = {
    # logging and cosmetics: no effect on what a client sees
    "log_type", "log_dest", "connection_messages", "log_timestamp",
    "notifications", "user", "pid_file",
}


def fail(msg):
    print("mosquitto_shim: " + msg, file=sys.stderr)
    sys.exit(3)


def parse_args(argv):
    conf, port = None, None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-v" or a == "-d":
            pass
        elif a == "-c":
            i += 1
            conf = argv[i]
        elif a == "-p":
            i += 1
            port = int(argv[i])
        else:
            fail("unsupported command-line argument %r" % a)
        i += 1
    return conf, port


def new_listener(port, address=""):
    return {"port": int(port), "address": address, "opts": {}}


def translate(conf, port):
    listeners = []
    glob = {}
    if conf is None:
        # `mosquitto -p PORT` without a file: local-only mode, anonymous allowed.
        listeners.append(new_listener(port))
        glob["allow_anonymous"] = "true"
    else:
        cur = None
        with open(conf) as f:
            for raw in f:
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split()
                key, args = parts[0], parts[1:]
                if key in IGNORED:
                    continue
                if key == "port":
                    cur = new_listener(args[0])
                    listeners.append(cur)
                elif key == "listener":
                    cur = new_listener(args[0], args[1] if len(args) > 1 else "")
                    listeners.append(cur)
                elif key in ("protocol", "cafile", "certfile", "keyfile",
                             "require_certificate", "use_identity_as_username",
                             "use_subject_as_username", "tls_version", "max_connections",
                             "mount_point", "crlfile", "psk_hint", "socket_domain",
                             "bind_interface", "http_dir"):
                    if cur is None:
                        fail("%s before any listener" % key)
                    cur["opts"][key] = args
                elif key in ("acl_file", "password_file"):
                    glob.setdefault(key, []).append(args)
                else:
                    glob[key] = args[0] if len(args) == 1 else args
    if not listeners:
        listeners.append(new_listener(port or 1883))
    return build_yaml(listeners, glob, conf)


def one(v):
    return v[-1] if isinstance(v, list) else v


def build_yaml(listeners, glob, conf):
    per_listener = glob.pop("per_listener_settings", "false") == "true"
    if per_listener and len(listeners) > 1:
        fail("per_listener_settings true with several listeners (Roost's auth is broker-wide)")
    y = {
        "listeners": [],
        "limits": {
            "receive_maximum": 20,
            "max_inflight": 20,
            "max_topic_aliases": 10,
            "max_packet_size": 268435460,
            "max_client_id_length": 65535,
            "max_queued_messages": 1000,
            # Mosquitto refuses topics with more than 200 '/' separators:
            # 201 levels.
            "max_topic_levels": 201,
        },
        # Mosquitto keeps sessions until persistent_client_expiration,
        # unlimited by default: the longest Session Expiry Interval.
        "sessions": {"max_expiry": "%ds" % 0xFFFFFFFE},
        "storage": {"type": "memory"},
        # The harness reads the broker's standard error only after it stops:
        # a chatty broker would fill the pipe and block.
        "log": {"level": "warn"},
        "auth": {},
    }
    lim = y["limits"]
    for l in listeners:
        o = l["opts"]
        host = l["address"]
        if ":" in host:
            host = "[" + host + "]"
        ly = {"type": "tcp", "address": "%s:%d" % (host, l["port"])}
        proto = o.pop("protocol", ["mqtt"])[0]
        if proto == "websockets":
            ly["type"] = "ws"
            ly["websocket"] = {"path": "/"}
        elif proto != "mqtt":
            fail("protocol %s" % proto)
        if "certfile" in o or "keyfile" in o:
            tls = {"cert_file": o.pop("certfile")[0], "key_file": o.pop("keyfile")[0]}
            ca = o.pop("cafile", None)
            req = o.pop("require_certificate", ["false"])[0] == "true"
            if ca and req:
                tls["ca_file"] = ca[0]
            tls["client_certs"] = "required" if req else "none"
            ident = o.pop("use_identity_as_username", ["false"])[0] == "true"
            tls["cert_identity"] = "cn" if ident else "none"
            ly["type"] = "wss" if ly["type"] == "ws" else "tls"
            ly["tls"] = tls
        if "max_connections" in o:
            n = int(o.pop("max_connections")[0])
            if n >= 0:
                lim["max_connections_per_listener"] = n
        if o:
            fail("listener options not translated: %s" % ", ".join(sorted(o)))
        y["listeners"].append(ly)

    auth = y["auth"]
    anon = glob.pop("allow_anonymous", None)
    if anon is None:
        anon = "false" if conf is not None else "true"
    auth["anonymous"] = anon == "true"
    for key, target in (("password_file", "password_file"), ("acl_file", "acl_file")):
        if key in glob:
            files = glob.pop(key)
            if len(files) != 1:
                fail("%s given %d times" % (key, len(files)))
            auth[target] = os.path.abspath(files[0][0])

    def take_int(key):
        return int(one(glob.pop(key)))

    if "max_keepalive" in glob:
        lim["max_keep_alive"] = "%ds" % take_int("max_keepalive")
    if "max_packet_size" in glob:
        n = take_int("max_packet_size")
        if n > 0:
            lim["max_packet_size"] = n
    if "max_inflight_messages" in glob:
        n = take_int("max_inflight_messages")
        lim["receive_maximum"] = n
        lim["max_inflight"] = n
    if "max_queued_messages" in glob:
        lim["max_queued_messages"] = take_int("max_queued_messages")
    if "max_queued_bytes" in glob:
        n = take_int("max_queued_bytes")
        if n > 0:
            lim["max_queued_bytes"] = n
    if "max_topic_alias" in glob:
        lim["max_topic_aliases"] = take_int("max_topic_alias")
    if "allow_zero_length_clientid" in glob:
        lim["allow_empty_client_id"] = one(glob.pop("allow_zero_length_clientid")) == "true"
    if "retain_available" in glob:
        y["retain"] = {"disabled": one(glob.pop("retain_available")) == "false"}
    if "sys_interval" in glob:
        y["sys_interval"] = "%ds" % take_int("sys_interval")
    persistence = one(glob.pop("persistence", "false")) == "true"
    pfile = one(glob.pop("persistence_file", "mosquitto.db"))
    ploc = one(glob.pop("persistence_location", ""))
    glob.pop("autosave_interval", None)
    if persistence:
        # The scripts delete Mosquitto's persistence file to start afresh; a
        # marker file of that name stands for Roost's store directory beside it.
        marker = os.path.join(ploc, pfile)
        data = marker + ".roost-store"
        if not os.path.exists(marker):
            shutil.rmtree(data, ignore_errors=True)
            open(marker, "w").close()
        y["storage"] = {"type": "disk", "dir": os.path.abspath(data), "sync": "never"}
    if glob:
        fail("options not translated: %s" % ", ".join(sorted(glob)))
    return y


def main():
    conf, port = parse_args(sys.argv[1:])
    y = translate(conf, port)
    roost = os.environ.get("ROOST_BIN")
    if not roost:
        fail("ROOST_BIN is not set")
    name = (conf or "mosquitto-p%d.conf" % port) + ".roost.yaml"
    with open(name, "w") as f:
        # JSON is YAML.
        json.dump(y, f, indent=1)
    os.execv(roost, [roost, "serve", "--config", name])


if __name__ == "__main__":
    main()

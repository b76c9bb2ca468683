#!/usr/bin/env python3
"""Runs Mosquitto's own broker test scripts (test/broker in a Mosquitto
checkout) against Roost, or against a Mosquitto binary for reference.

    go build -o /tmp/roost ./cmd/roost
    scripts/mosquitto-suite/run.py --mosquitto-src ~/src/mosquitto --roost /tmp/roost
    scripts/mosquitto-suite/run.py --mosquitto-src ~/src/mosquitto --mosquitto /usr/sbin/mosquitto
    scripts/mosquitto-suite/run.py ... 03-publish-qos1.py 07-will-qos0.py   # some scripts

The checkout is not modified: its test/ directory is copied to a temporary
directory whose src/mosquitto is either the given Mosquitto binary or
mosquitto_shim.py (which translates each script's configuration into Roost's
and runs Roost). Scripts that need a feature only Mosquitto has are not run;
NOT_APPLICABLE below says why for each. With --tolerant, compare.py is loaded
into the scripts' harness so that choices the MQTT specification leaves to
the server (see compare.py) are accepted.

Prints PASS/FAIL per script and the counts; exits 1 if any applicable
script failed. --keep keeps the temporary directory (its .log files hold each
script's output).
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Script name (regular expression) -> why it does not apply to Roost.
NOT_APPLICABLE = [
    (r"06-bridge-.*", "bridges: Roost has no bridge"),
    (r"08-ssl-bridge\.py", "bridges: Roost has no bridge"),
    (r"08-tls-psk-.*", "TLS-PSK: Roost's TLS (Go crypto/tls) has no pre-shared keys"),
    (r"08-ssl-.*", "the test tree's certificates have expired (the scripts fail the TLS handshake against Mosquitto too)"),
    (r"09-plugin-.*", "Mosquitto plugin API (C shared objects built from the test tree)"),
    (r"09-extended-auth-.*", "enhanced authentication through a Mosquitto C plugin"),
    (r"14-dynsec-.*", "Mosquitto's dynamic-security plugin"),
    (r"10-listener-mount-point\.py", "mount_point: a Mosquitto-only listener option"),
    (r"02-subpub-qos2-max-inflight-bytes\.py|02-subpub-qos0-queued-bytes\.py", "max_inflight_bytes: a Mosquitto-only limit"),
    (r"01-connect-zero-length-id\.py", "per_listener_settings with two listeners: Roost's authentication settings are broker-wide"),
    (r"04-retain-check-source.*", "check_retain_source: a Mosquitto-only option"),
    (r"(02-subpub-qos[01]|07-will)-oversize-payload\.py", "message_size_limit: a Mosquitto-only limit on payload size (Roost limits packet size)"),
    (r"12-prop-maximum-packet-size-broker\.py", "sets max_packet_size 30; Roost's configuration refuses less than 64 bytes"),
    (r"01-bad-initial-packets\.py", "limits the broker's virtual size (VMS) to 25 MB; the Go runtime reserves about 3 GB of address space it never touches, whatever the broker does (resident memory is what the check is about)"),
    (r"13-malformed-publish-v5\.py", "maximum_qos 1: Roost always offers QoS 2"),
    (r"04-retain-upgrade-outgoing-qos\.py", "upgrade_outgoing_qos: a Mosquitto-only option (against the spec's QoS downgrade)"),
    (r"06-bridge-per-listener-settings\.py", "bridges"),
]

# Scripts listed in Mosquitto's test.py plus the table-driven sequence tests.
def list_scripts(broker_dir):
    with open(os.path.join(broker_dir, "test.py")) as f:
        text = f.read()
    names = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        m = re.search(r"'\./([^']+\.py)'", line)
        if m:
            names.append(m.group(1))
    names.append("msg_sequence_test.py")
    return names


def why_not(name):
    for pat, why in NOT_APPLICABLE:
        if re.fullmatch(pat, name):
            return why
    return None


def ports_needed(broker_dir, name):
    with open(os.path.join(broker_dir, "test.py")) as f:
        for line in f:
            if "'./" + name + "'" in line:
                m = re.search(r"\((\d+),", line)
                if m:
                    return int(m.group(1))
    return 1


def run_one(broker_dir, name, ports, timeout, env):
    log = os.path.join(broker_dir, name + ".log")
    args = [sys.executable, name] + [str(p) for p in ports]
    t0 = time.time()
    with open(log, "w") as out:
        try:
            rc = subprocess.run(args, cwd=broker_dir, stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return name, rc, time.time() - t0, log


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mosquitto-src", required=True, help="a Mosquitto source checkout")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--roost", help="the roost binary")
    g.add_argument("--mosquitto", help="a mosquitto binary (reference run)")
    ap.add_argument("--tolerant", action="store_true",
                    help="accept choices the spec leaves to the server (compare.py)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--base-port", type=int, default=21888,
                    help="first port for the brokers; keep the range below the kernel's "
                         "ephemeral ports (Linux: 32768 on), where other programs' "
                         "connections can take a port a script is about to listen on")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("scripts", nargs="*")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="mosq-suite-")
    shutil.copytree(os.path.join(a.mosquitto_src, "test"), os.path.join(tmp, "test"), symlinks=True)
    os.makedirs(os.path.join(tmp, "src"))
    env = dict(os.environ)
    if a.roost:
        shim = os.path.join(tmp, "src", "mosquitto")
        shutil.copy(os.path.join(HERE, "mosquitto_shim.py"), shim)
        os.chmod(shim, 0o755)
        env["ROOST_BIN"] = os.path.abspath(a.roost)
    else:
        os.symlink(os.path.abspath(a.mosquitto), os.path.join(tmp, "src", "mosquitto"))
    # The harness gives a broker 2 s (20 tries 100 ms apart) to start
    # listening; on a loaded machine a broker may need longer.
    mt = os.path.join(tmp, "test", "mosq_test.py")
    with open(mt) as f:
        text = f.read()
    with open(mt, "w") as f:
        f.write(text.replace("for i in range(0, 20):", "for i in range(0, 300):", 1))
    # msg_sequence_test.py's helper publisher connects to port 1888 whatever
    # port the script was given.
    ms = os.path.join(tmp, "test", "broker", "msg_sequence_test.py")
    if os.path.exists(ms):
        with open(ms) as f:
            text = f.read()
        text = text.replace('hostname="localhost", port=1888, timeout=2)',
                            'hostname="localhost", port=mosq_test.get_port(), timeout=2)')
        if a.tolerant:
            # Its table-driven cases compare packets themselves: route them
            # through the same comparison as the other scripts.
            text = text.replace("    def _recv_message(self, sock, msg):\n",
                                "    def _recv_message(self, sock, msg):\n"
                                "        try:\n"
                                "            return mosq_test.expect_packet(sock, msg.comment, msg.message)\n"
                                "        except mosq_test.TestError:\n"
                                "            raise ValueError('Receive message %s' % msg.comment)\n")
            text = text.replace("    def _disconnected_check(self, sock):\n",
                                "    def _disconnected_check(self, sock):\n"
                                "        if self.expect_disconnect:\n"
                                "            try:\n"
                                "                return mosq_test.expect_packet(sock, 'disconnect', b'')\n"
                                "            except mosq_test.TestError:\n"
                                "                raise ValueError('Still connected')\n")
        with open(ms, "w") as f:
            f.write(text)
    if a.tolerant:
        shutil.copy(os.path.join(HERE, "compare.py"), os.path.join(tmp, "test", "roost_compare.py"))
        with open(os.path.join(tmp, "test", "mosq_test.py"), "a") as f:
            f.write("\nimport roost_compare\nroost_compare.install(__import__(__name__))\n")
    broker_dir = os.path.join(tmp, "test", "broker")

    names = a.scripts or list_scripts(broker_dir)
    todo, skipped = [], []
    for n in names:
        w = why_not(n)
        if not os.path.exists(os.path.join(broker_dir, n)):
            w = "listed in test.py but not in this checkout"
        if w and not a.scripts:
            skipped.append((n, w))
        else:
            todo.append(n)

    results = {}
    port = a.base_port
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = []
        for n in todo:
            k = ports_needed(broker_dir, n)
            futs.append(ex.submit(run_one, broker_dir, n, list(range(port, port + k)), a.timeout, env))
            port += k
        for fu in concurrent.futures.as_completed(futs):
            n, rc, dt, log = fu.result()
            results[n] = rc
            print("%-4s %6.1fs %s%s" % ("PASS" if rc == 0 else "FAIL", dt, n,
                                       "" if rc == 0 else " (rc=%s)" % rc), flush=True)

    passed = sorted(n for n, rc in results.items() if rc == 0)
    failed = sorted(n for n, rc in results.items() if rc != 0)
    print("\nnot applicable (%d):" % len(skipped))
    for n, w in skipped:
        print("  %s: %s" % (n, w))
    print("\nfailed (%d):" % len(failed))
    for n in failed:
        print("  " + n)
    print("\npassed %d of %d applicable scripts" % (len(passed), len(results)))
    if a.keep:
        print("logs in " + broker_dir)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

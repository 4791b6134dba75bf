#!/usr/bin/env bash
# test_relay.sh — the relay inside weft-server through the real binary and
# build/tools/relayload, on loopback, no root: a server on 127.0.0.1 with a
# fresh state directory, a network and a reusable join key, then
#   - the relay listens on TCP at the control plane's address and port;
#   - an opening whose PROOF comes from the wrong private key is refused;
#   - a key that never joined reaches the server (its control plane
#     answers over the relay) but not a node; a registered node does;
#   - a second connection with a key replaces the first;
#   - 200 concurrent relayed pairs deliver every frame, intact, in order,
#     to its destination only;
#   - nodes join over the relay itself (REGISTER through the relay's
#     control path, as a node behind a UDP-blocking firewall does), and a
#     LOOKUP of such a node carries no relay pseudo endpoint;
#   - garbage instead of HELLO, HELLOs and frames cut short, broken
#     streams, frames from an unregistered key, a HELLO storm and 300
#     slowloris connections: all closed or dropped, a pair works during
#     the slowloris, the server stays up and serves a pair after it;
#   - the single-pair throughput (reported; only its correctness checked);
#   - status shows the counters (JSON and text) and log lines name nodes;
#   - --no-relay leaves the TCP port closed; --relay-listen moves it;
#     both together are a usage error;
#   - --relay-tls-listen: the relay inside TLS on a second port, plain TCP
#     still served at once: pairs over TLS deliver every frame intact
#     while pairs over plain TCP run alongside, a wrong PROOF inside TLS
#     is refused, garbage instead of a ClientHello and a silent TLS
#     client are closed, the flood over TLS, and the single-pair TLS
#     throughput (reported); with --no-relay it is a usage error.
#
#   BUILD=build|build-san    which build (default build)
# Prints "# ok - ..." / "# FAIL - ..." per check; exit 0 when all passed.
. "$(dirname "$0")/lib.sh"
it_init relay
LOAD=$IT_ROOT/$BUILD/tools/relayload
# load DESC LIMIT ARGS...: relayload must exit 0 with its line ending in ok.
load() {
	local d=$1 limit=$2
	shift 2
	run "$limit" "$LOAD" "$@"
	echo "#   relayload $*: $OUT" | sed "s|$TOKEN|TOKEN|"
	if ((RC == 0)) && [[ $OUT == *" ok" ]]; then ok "$d"; else not_ok "$d (exit $RC)"; fi
}
# field NAME: the value of NAME=... in $OUT.
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$OUT"; }
# relay_stat NAME: a counter of the running server's relay (status --json).
relay_stat() {
	"$BIN" status --json 2>/dev/null |
		"$PY" -c 'import json, sys; r = json.load(sys.stdin)["relay"]; print(r[sys.argv[1]] if r else "off")' "$1"
}
# expect_stat DESC NAME MIN: the relay counter NAME is at least MIN.
expect_stat() {
	local v
	v=$(relay_stat "$2")
	if [[ $v =~ ^[0-9]+$ ]] && ((v >= $3)); then ok "$1 ($2 = $v)"; else not_ok "$1 ($2 = '$v', want >= $3)"; fi
}
# tcp_open PORT: true when something accepts TCP on 127.0.0.1:PORT.
tcp_open() {
	"$PY" -c '
import socket, sys
s = socket.socket()
s.settimeout(2)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}
log_has() {
	if grep -qE "$2" "$T/server.log"; then ok "$1"; else
		not_ok "$1 (no log line matching '$2')"
		tail -5 "$T/server.log" | sed 's/^/#   server: /'
	fi
}
# py_opening PORT SERVER_PUB: the opening and one PING written
# independently of src/lib/relay.c (Python, the cryptography package):
# prints "pong" when the relay's proof checked and a PONG came back.
py_opening() {
	timeout 10 "$PY" - "$1" "$2" <<'PYEOF'
import base64, hashlib, hmac, os, socket, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
S = base64.b64decode(sys.argv[2])
c = X25519PrivateKey.generate()
C = c.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
K = hashlib.blake2s(b"weft relay v1" + c.exchange(X25519PublicKey.from_public_bytes(S))).digest()
mac = lambda label, a, b: hmac.new(K, label + C + a + b, hashlib.blake2s).digest()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
nc = os.urandom(16)
s.sendall(b"weftrly1" + C + nc)
ch = b""
while len(ch) < 56:
    b = s.recv(56 - len(ch))
    if not b:
        sys.exit("closed before the CHALLENGE")
    ch += b
if ch[:8] != b"weftrly1" or not hmac.compare_digest(ch[24:], mac(b"relay", nc, ch[8:24])):
    sys.exit("the relay's proof does not check")
s.sendall(mac(b"client", ch[8:24], nc) + bytes([3, 0, 0, 0]))
print("pong" if s.recv(4) == bytes([4, 0, 0, 0]) else "no pong")
PYEOF
}
alive() {
	if kill -0 "$SERVER_PID" 2>/dev/null && "$BIN" status >/dev/null 2>&1; then ok "$1"; else not_ok "$1"; fi
}

for b in "$BIN" "$LOAD"; do
	if [[ ! -x $b ]]; then
		echo "# FAIL - $b is not built (run make)"
		exit 1
	fi
done
PORT=$(free_port)
TOKEN=unset

ws init --endpoint "127.0.0.1:$PORT" --listen "127.0.0.1:$PORT"
((RC == 0)) && ok "init on 127.0.0.1:$PORT" || { not_ok "init (exit $RC)"; exit 1; }
ws serve --relay-listen "127.0.0.1:1" --no-relay
((RC == 1)) && [[ $ERR == *"contradict"* ]] && ok "--relay-listen with --no-relay is a usage error" ||
	not_ok "--relay-listen with --no-relay (exit $RC: $ERR)"
ws serve --check
[[ $OUT == *"relay:           TCP 127.0.0.1:$PORT"* ]] && ok "serve --check names the relay's address" ||
	not_ok "serve --check relay line: $OUT"
if start_server; then ok "serve starts"; else
	not_ok "serve starts"
	sed 's/^/#   server: /' "$T/server.log"
	exit 1
fi
log_has "log: the relay listens on the control plane's address" "relay on TCP 127\.0\.0\.1:$PORT"
tcp_open "$PORT" && ok "TCP $PORT accepts (same port as the UDP control plane)" || not_ok "TCP $PORT closed"
ws networks create lab
ws keys create --network lab --reusable
TOKEN=$OUT
[[ $TOKEN == weft1:* ]] && ok "a reusable join key" || { not_ok "keys create: $OUT"; exit 1; }

# --- the opening ---
if "$PY" -c 'import cryptography' 2>/dev/null; then
	SPUB=$("$BIN" status --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["public_key"])')
	got=$(py_opening "$PORT" "$SPUB" 2>&1)
	[[ $got == pong ]] && ok "an independent client (Python) opens and gets a PONG" ||
		not_ok "independent opening: $got"
else
	echo "# skip - independent opening: python3 has no cryptography package"
fi
load "a PROOF from the wrong private key is refused" 20 --bad-proof "$TOKEN"
expect_stat "status counts the bad proof" bad_proof 1
expect_stat "no connection authenticated by it" authenticated 0

# --- who may send to whom ---
load "an unregistered key reaches the server only" 60 --unregistered "$TOKEN"
[[ $(field from_unregistered) == 0/20 && $(field server_answer) == not_registered ]] &&
	ok "its frames to a node are dropped; the control plane answers it over the relay" ||
	not_ok "unregistered: $OUT"
expect_stat "status counts the frames of the unregistered key" drop_not_node 20
expect_stat "status counts packets to the server" to_server 1
expect_stat "status counts the server's answers" from_server 1
load "a second connection with a key replaces the first" 60 --replace "$TOKEN"
expect_stat "status counts the replacement" replaced 1

# --- 200 pairs ---
load "200 concurrent relayed pairs" 100 --pairs 200 --frames 100 --rate 50 "$TOKEN"
[[ $(field delivered) == 40000 && $(field lost) == 0 && $(field misrouted) == 0 ]] &&
	ok "200 pairs: 40000 frames delivered, none lost or misrouted" || not_ok "200 pairs: $OUT"
PAIRS_LINE=$OUT
expect_stat "status counts forwarded frames" frames 40000

# --- joining over the relay ---
load "20 pairs of nodes that join over the relay" 100 --pairs 20 --frames 50 --register-over-relay "$TOKEN"
[[ $(field register) == relay && $(field lookup_endpoints) == 0 ]] &&
	ok "a LOOKUP of a relayed node carries no pseudo endpoint" || not_ok "relay join: $OUT"
ws nodes list --network lab --json
n_nodes=$("$PY" -c 'import json, sys; print(len(json.loads(sys.stdin.read())))' <<<"$OUT" 2>/dev/null)
((n_nodes >= 440)) && ok "the nodes joined ($n_nodes listed)" || not_ok "nodes list: $n_nodes"

# --- abuse ---
load "flood: garbage, cut streams, a HELLO storm, slowloris" 60 --flood --conns 300 "$TOKEN"
alive "the server is up after the flood"
expect_stat "status: garbage instead of HELLO" bad_hello 100
expect_stat "status: broken streams closed" broken_streams 100
expect_stat "status: slowloris timed out" open_timeouts 200
expect_stat "status: slowloris evicted" opening_evicted 40
expect_stat "status: hangups in the opening" open_abandoned 100
v=$(relay_stat opening)
((v == 0)) && ok "no connection left in the opening" || not_ok "opening = $v"
load "a pair still works after the flood" 60 --pairs 2 --frames 20 "$TOKEN"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null)
echo "#   server resident memory after the flood: ${rss:-?} kB"

# --- throughput ---
load "single-pair throughput: nothing lost or corrupted" 30 --throughput --seconds 3 "$TOKEN"
echo "#   figure: $(field gbps) Gbit/s ($(field frames_per_s) frames/s of $(field size) bytes, one pair, loopback)"
THROUGHPUT=$(field gbps)

# --- status and log ---
ws status
[[ $OUT == *"relay listen"*"127.0.0.1:$PORT"* && $OUT == *"relay frames"* && $OUT == *"relay drop_not_node"* ]] &&
	ok "status (text) shows the relay" || not_ok "status text: $OUT"
log_has "log: relayed nodes connect" "info: relay: node [A-Za-z0-9+/]{43}= connected from 127\.0\.0\.1:"
log_has "log: and disconnect" "info: relay: node [A-Za-z0-9+/]{43}= disconnected \(closed\)"
log_has "log: nodes joined over the relay" "info: node relay-[0-9]+ joined network lab"
stop_server

# --- --no-relay, --relay-listen ---
if start_server --no-relay; then ok "serve --no-relay starts"; else not_ok "serve --no-relay starts"; fi
tcp_open "$PORT" && not_ok "--no-relay: TCP $PORT accepts" || ok "--no-relay: TCP $PORT is closed"
[[ $(relay_stat open) == off ]] && ok "--no-relay: status says the relay is off" || not_ok "--no-relay status"
ws status
[[ $OUT == *"relay       off"* ]] && ok "--no-relay: status (text) says off" || not_ok "--no-relay status text: $OUT"
stop_server
PORT2=$(free_port)
if start_server --relay-listen "127.0.0.1:$PORT2"; then ok "serve --relay-listen starts"; else not_ok "serve --relay-listen starts"; fi
tcp_open "$PORT" && not_ok "--relay-listen: TCP $PORT still accepts" || ok "--relay-listen: TCP $PORT is closed"
load "--relay-listen: a pair through the moved relay" 60 --pairs 2 --frames 20 --relay "127.0.0.1:$PORT2" "$TOKEN"
stop_server

# --- the relay inside TLS ---
# tls_garbage PORT: bytes that are no TLS record instead of a ClientHello;
# prints "closed" when the server hangs up within 3 s.
tls_garbage() {
	"$PY" -c '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(b"GET / HTTP/1.0\r\n" + os.urandom(200))
try:
    while s.recv(4096):
        pass
    print("closed")
except ConnectionResetError:
    print("closed")
except socket.timeout:
    print("still open")' "$1"
}
# tls_silent PORT: a ClientHello, then nothing (no HELLO inside): prints
# "closed" when the server hangs up within 8 s (the opening's deadline).
tls_silent() {
	"$PY" -c '
import socket, ssl, sys, time
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
s = c.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8))
t, v = time.time(), s.version()
cert = ssl.DER_cert_to_PEM_cert(s.getpeercert(binary_form=True))
try:
    r = s.recv(1)
except (ConnectionResetError, ssl.SSLError):
    r = b""
except socket.timeout:
    print("still open"); sys.exit()
print("closed" if not r else "data", "after %.0f s, %s, certificate of %d bytes" %
      (time.time() - t, v, len(cert)))' "$1"
}
TLSPORT=$(free_port)
ws serve --relay-tls-listen "127.0.0.1:$TLSPORT" --no-relay
((RC == 1)) && [[ $ERR == *"contradict"* ]] && ok "--relay-tls-listen with --no-relay is a usage error" ||
	not_ok "--relay-tls-listen with --no-relay (exit $RC: $ERR)"
ws serve --check --relay-tls-listen "127.0.0.1:$TLSPORT"
[[ $OUT == *"relay over TLS:  TCP 127.0.0.1:$TLSPORT"* ]] && ok "serve --check names the TLS relay's address" ||
	not_ok "serve --check TLS line: $OUT"
if start_server --relay-tls-listen "127.0.0.1:$TLSPORT"; then ok "serve --relay-tls-listen starts"; else
	not_ok "serve --relay-tls-listen starts"
	tail -5 "$T/server.log" | sed 's/^/#   server: /'
fi
log_has "log: the relay listens on TCP and on TLS" "relay on TCP 127\.0\.0\.1:$PORT and TLS on TCP 127\.0\.0\.1:$TLSPORT"
TLS=(--tls --relay "127.0.0.1:$TLSPORT")
# Plain and TLS at once: 50 plain pairs in the background while 50 pairs
# run over TLS.
"$LOAD" --pairs 50 --frames 100 --rate 50 "$TOKEN" >"$T/plain.out" 2>"$T/plain.err" &
plain_pid=$!
load "TLS: 50 relayed pairs" 100 --pairs 50 --frames 100 --rate 50 "${TLS[@]}" "$TOKEN"
[[ $(field delivered) == 10000 && $(field lost) == 0 && $(field corrupt) == 0 && $(field misrouted) == 0 ]] &&
	ok "TLS: 10000 frames delivered intact, none lost or misrouted" || not_ok "TLS pairs: $OUT"
wait "$plain_pid"
plain_rc=$?
echo "#   plain alongside: $(cat "$T/plain.out")"
((plain_rc == 0)) && grep -q "delivered=10000 lost=0 corrupt=0 misrouted=0.* ok$" "$T/plain.out" &&
	ok "plain TCP pairs alongside TLS: 10000 frames delivered intact" || not_ok "plain pairs alongside TLS (exit $plain_rc)"
load "TLS: nodes join over the relay inside TLS" 100 --pairs 10 --frames 20 --register-over-relay "${TLS[@]}" "$TOKEN"
load "TLS: a PROOF from the wrong private key is refused" 20 --bad-proof "${TLS[@]}" "$TOKEN"
got=$(tls_garbage "$TLSPORT" 2>&1)
[[ $got == closed ]] && ok "TLS: garbage instead of a ClientHello is closed" || not_ok "TLS garbage: $got"
got=$(timeout 15 "$PY" -c 'import ssl' 2>&1 && tls_silent "$TLSPORT" 2>&1)
[[ $got == closed* ]] && ok "TLS: a client silent after the handshake is closed ($got)" || not_ok "TLS silent client: $got"
load "TLS: flood inside TLS (garbage, cut streams, storm, slowloris)" 60 --flood --conns 100 "${TLS[@]}" "$TOKEN"
alive "the server is up after the TLS flood"
load "TLS: single-pair throughput: nothing lost or corrupted" 30 --throughput --seconds 3 "${TLS[@]}" "$TOKEN"
echo "#   figure: $(field gbps) Gbit/s over TLS ($(field frames_per_s) frames/s of $(field size) bytes, one pair, loopback)"
TLS_THROUGHPUT=$(field gbps)
load "TLS: plain TCP still works on the control port" 60 --pairs 2 --frames 20 "$TOKEN"
stop_server

it_check_server_log
echo "# figures: 200 pairs: ${PAIRS_LINE:-none}; throughput ${THROUGHPUT:-?} Gbit/s, over TLS ${TLS_THROUGHPUT:-?} Gbit/s"
it_done test_relay

#!/usr/bin/env bash
# test_stun.sh — weft-server's STUN responder through the real binary, on
# loopback, no root:
#   - Debian's stun-client (RFC 3489) learns its mapped address from the
#     STUN port and from the control port, from the source port it chose;
#   - RFC 8489 requests (with the cookie, FINGERPRINT) get
#     XOR-MAPPED-ADDRESS; a CHANGE-REQUEST we cannot honour gets 420;
#   - garbage, responses and truncated requests get nothing and are counted;
#   - status shows the counters; --no-stun leaves the port closed,
#     --stun-listen moves it, both together are a usage error.
. "$(dirname "$0")/lib.sh"
it_init stun
command -v stun >/dev/null || { echo "# FAIL - stun-client is needed (scripts/deps.sh)"; exit 1; }

PORT=$(free_port)
SPORT=$(free_udp_port)
while [[ $SPORT == "$PORT" ]]; do SPORT=$(free_udp_port); done
ws init --endpoint "127.0.0.1:$PORT" --listen "127.0.0.1:$PORT"
((RC == 0)) && ok "init" || not_ok "init: $ERR"
# The STUN port: what status says (the test picks a free one).
"$BIN" serve --stun-listen "127.0.0.1:$SPORT" >>"$T/server.log" 2>&1 &
SERVER_PID=$!
if wait_for_socket; then ok "serve with --stun-listen 127.0.0.1:$SPORT"; else
	not_ok "serve starts"
	tail -n 5 "$T/server.log" | sed 's/^/#   server: /'
fi

# stun-client: test 1 only, from a source port we choose; -v prints the
# mapped address (it waits forever without an answer: bounded here).
CP=$(free_udp_port)
run 10 stun "127.0.0.1:$SPORT" 1 -v -p "$CP"
if [[ "$OUT$ERR" == *"mappedAddr=127.0.0.1:$CP"* ]]; then
	ok "stun-client learns its mapped address 127.0.0.1:$CP from the STUN port"
else
	not_ok "stun-client against the STUN port (rc $RC): $(tail -3 <<<"$OUT$ERR")"
fi
CP=$(free_udp_port)
run 10 stun "127.0.0.1:$PORT" 1 -v -p "$CP"
if [[ "$OUT$ERR" == *"mappedAddr=127.0.0.1:$CP"* ]]; then
	ok "stun-client learns its mapped address from the control port too"
else
	not_ok "stun-client against the control port (rc $RC): $(tail -3 <<<"$OUT$ERR")"
fi
# The full NAT-type run: answers (with 420 to the changes we cannot make).
CP=$(free_udp_port)
run 20 stun "127.0.0.1:$SPORT" -v -p "$CP"
if [[ "$OUT$ERR" == *"MappedAddress = 127.0.0.1:$CP"* && "$OUT$ERR" == *"ErrorCode = 4 20"* ]]; then
	ok "stun-client's full run: mapped address, and 420 for change requests (one address)"
else
	not_ok "stun-client full run (rc $RC): $(tail -5 <<<"$OUT$ERR")"
fi

# Our own RFC 8489 client side, in Python: a request with the cookie and
# a FINGERPRINT; CHANGE-REQUEST; garbage.
"$PY" - "$SPORT" >"$T/py" 2>&1 <<'PYEOF'
import os, socket, struct, sys, binascii
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(1.0)
me = s.getsockname()
def fp(msg):
    return struct.pack("!HHI", 0x8028, 4, (binascii.crc32(msg) ^ 0x5354554e) & 0xffffffff)
def req(attrs=b"", fingerprint=True):
    tx = os.urandom(12)
    body = attrs
    hdr = struct.pack("!HHI", 0x0001, len(body) + (8 if fingerprint else 0), 0x2112a442) + tx
    m = hdr + body
    return (m + fp(m) if fingerprint else m), tx
def ask(m):
    s.sendto(m, ("127.0.0.1", port))
    try:
        return s.recv(2048)
    except socket.timeout:
        return None
def attrs(r):
    out, off = {}, 20
    while off + 4 <= len(r):
        t, l = struct.unpack("!HH", r[off:off + 4])
        out[t] = r[off + 4:off + 4 + l]
        off += 4 + ((l + 3) & ~3)
    return out
m, tx = req()
r = ask(m)
ok = r is not None and struct.unpack("!H", r[:2])[0] == 0x0101 and r[8:20] == tx
a = attrs(r) if r else {}
x = a.get(0x0020, b"")
xport = struct.unpack("!H", x[2:4])[0] ^ 0x2112 if len(x) >= 8 else -1
xaddr = bytes(b ^ c for b, c in zip(x[4:8], struct.pack("!I", 0x2112a442))) if len(x) >= 8 else b""
print("xor", "ok" if ok and xport == me[1] and socket.inet_ntoa(xaddr) == me[0] else "bad")
print("fingerprint", "ok" if 0x8028 in a else "bad")
m, tx = req(struct.pack("!HHI", 0x0003, 4, 0x06))
r = ask(m)
print("change", "420" if r and struct.unpack("!H", r[:2])[0] == 0x0111 and 0x0009 in attrs(r) and attrs(r)[0x0009][2:4] == b"\x04\x14" else "bad")
silent = 0
for junk in [b"\x01\x01\x00\x00" + b"\x21\x12\xa4\x42" + os.urandom(12),  # a response
             os.urandom(7), b"\x00\x01\x00\x08" + b"\x21\x12\xa4\x42" + os.urandom(12),  # cut short
             os.urandom(200)]:
    if ask(junk) is None:
        silent += 1
print("silent", silent)
bad_fp = bytearray(req()[0]); bad_fp[-1] ^= 1
print("badfp", "silent" if ask(bytes(bad_fp)) is None else "answered")
PYEOF
grep -q '^xor ok' "$T/py" && ok "an RFC 8489 request gets XOR-MAPPED-ADDRESS (our port) and the same transaction id" ||
	not_ok "XOR-MAPPED-ADDRESS: $(cat "$T/py")"
grep -q '^fingerprint ok' "$T/py" && ok "a request with FINGERPRINT gets one back" || not_ok "fingerprint: $(cat "$T/py")"
grep -q '^change 420' "$T/py" && ok "CHANGE-REQUEST (change IP and port) gets 420 Unknown Attribute" ||
	not_ok "change request: $(cat "$T/py")"
grep -q '^silent 4' "$T/py" && ok "a response, garbage and truncated requests get no answer" ||
	not_ok "garbage: $(cat "$T/py")"
grep -q '^badfp silent' "$T/py" && ok "a wrong FINGERPRINT gets no answer" || not_ok "bad fingerprint: $(cat "$T/py")"

ws status --json
st=$("$PY" -c 'import json,sys; s=json.load(sys.stdin)["stun"]; print(s["port"], s["answered"], s["errors_sent"], s["dropped"])' <<<"$OUT" 2>/dev/null)
read -r sp ans errs drop <<<"$st"
if [[ "$sp" == "$SPORT" ]] && ((ans >= 3 && errs >= 2 && drop >= 5)); then
	ok "status counts STUN: port $sp, answered $ans, errors $errs, dropped $drop"
else
	not_ok "status stun: '$st' from $OUT"
fi
cp_ans=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["control"]["stun_answered"])' <<<"$OUT" 2>/dev/null)
[[ "$cp_ans" =~ ^[0-9]+$ ]] && ((cp_ans >= 1)) && ok "status counts STUN answered on the control port ($cp_ans)" ||
	not_ok "control stun_answered: '$cp_ans'"
stop_server

# --no-stun: nothing answers on the STUN port; both flags: usage error.
ws serve --no-stun --stun-listen "127.0.0.1:$SPORT"
((RC != 0)) && [[ $ERR == *contradict* ]] && ok "--no-stun with --stun-listen is refused, saying why" ||
	not_ok "--no-stun with --stun-listen (rc $RC): $ERR"
"$BIN" serve --no-stun >>"$T/server.log" 2>&1 &
SERVER_PID=$!
wait_for_socket && ok "serve --no-stun starts" || not_ok "serve --no-stun starts"
CP=$(free_udp_port)
run 3 stun "127.0.0.1:$SPORT" 1 -v -p "$CP"
[[ "$OUT$ERR" != *"mappedAddr="* ]] && ok "with --no-stun nothing answers on the STUN port" ||
	not_ok "--no-stun: answered: $OUT$ERR"
ws status --json
[[ "$OUT" == *'"stun":null'* || "$OUT" == *'"stun": null'* ]] && ok "status says STUN is off" || not_ok "status with --no-stun: $OUT"
stop_server
it_done test_stun

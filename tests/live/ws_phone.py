#!/usr/bin/env python3
"""A browser-style SIP phone over WebSocket (RFC 7118) for tests/live/websocket-phone.sh: standard library only.

It does what a WebRTC softphone's SIP stack (JsSIP, SIP.js) does on the wire, minus ICE and SRTP: the HTTP upgrade to
the "sip" subprotocol, masked client frames (RFC 6455 5.3), a REGISTER whose Contact is a made-up *.invalid host with
transport=ws, +sip.instance and reg-id (RFC 5626), then a call to CALLEE through the proxy, hung up after SECONDS;
with --answer, then one incoming call answered and played to until the caller hangs up. Its media is plain RTP
(RTP/AVP, PCMA) carrying a FREQ Hz tone, so a recording's channel can be told by frequency; what comes back is read
and dropped. It does not unregister: a browser phone stays registered while its tab is open.

Usage: ws_phone.py PROXY_IP:PORT LOCAL_IP EXTENSION CALLEE [--freq 600] [--seconds 8] [--rtp-port 7078]
         [--instance urn:uuid:...] [--answer SECONDS_TO_WAIT]
Exit status 0 when every call went through cleanly; 1 otherwise (with the reason on stderr).
"""
import argparse
import base64
import hashlib
import math
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sipp"))
from make_tone_pcap import alaw  # noqa: E402  (the G.711 A-law encoder the tone pcap is made with)

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3: the accept key's constant


class WebSocket:
    """One client connection: upgrade, masked text frames out, unmasked frames in (pings answered)."""

    def __init__(self, proxy, local_ip):
        host, port = proxy.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10, source_address=(local_ip, 0))
        self.buffer = b""
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(
            b"GET / HTTP/1.1\r\nHost: " + proxy.encode() + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
            b"Origin: http://" + local_ip.encode() + b"\r\n\r\n")
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        if not head.startswith(b"HTTP/1.1 101") or accept not in head:
            raise RuntimeError("upgrade refused: " + head.decode(errors="replace"))

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("connection closed by the proxy")
        self.buffer += data

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send_text(self, text):
        self._send_frame(0x1, text.encode())

    def receive_text(self, timeout):
        """The next text or binary message's payload, or None on timeout; control frames handled here."""
        deadline = time.monotonic() + timeout
        message = b""
        while True:
            while True:
                frame = self._parse()
                if frame is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                try:
                    self._fill()
                except socket.timeout:
                    return None
            fin, opcode, payload = frame
            if opcode == 0x9:
                self._send_frame(0xA, payload)  # ping: pong
            elif opcode == 0x8:
                raise RuntimeError("the proxy closed the WebSocket")
            elif opcode in (0x0, 0x1, 0x2):
                message += payload
                if fin:
                    return message.decode(errors="replace")

    def _parse(self):
        b = self.buffer
        if len(b) < 2:
            return None
        fin, opcode, masked, n, at = b[0] & 0x80, b[0] & 0x0F, b[1] & 0x80, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, at = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, at = struct.unpack("!Q", b[2:10])[0], 10
        key = b""
        if masked:
            key, at = b[at:at + 4], at + 4
        if len(b) < at + n:
            return None
        payload = b[at:at + n]
        if masked:
            payload = bytes(x ^ key[i % 4] for i, x in enumerate(payload))
        self.buffer = b[at + n:]
        return bool(fin), opcode, payload

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
            self.sock.settimeout(2)
            self.receive_text(2)
        except (RuntimeError, OSError):
            pass
        self.sock.close()


def parse(text):
    """(start line, [(name lower, value)], body) of one SIP message."""
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return lines[0], headers, body


def header(headers, name):
    return next((v for n, v in headers if n == name), "")


def token(n=10):
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


class Phone:
    def __init__(self, args):
        self.args = args
        self.ws = WebSocket(args.proxy, args.local_ip)
        self.proxy_host = args.proxy.rsplit(":", 1)[0]
        self.contact_host = token(12) + ".invalid"  # RFC 7118 5.2: a browser has no address to give
        self.contact_user = token(8)
        self.instance = args.instance
        self.cseq = 0

    def via(self):
        return "SIP/2.0/WS %s;branch=z9hG4bK%s" % (self.contact_host, token(12))

    def request(self, method, uri, call_id, from_tag, to, extra="", body="", cseq=None):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        a = self.args
        text = ("%s %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nTo: %s\r\n"
                "From: \"WebRTC %s\" <sip:%s@%s>;tag=%s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n%s"
                "User-Agent: appliance-tests ws_phone.py\r\nContent-Length: %d\r\n\r\n%s"
                % (method, uri, self.via(), to, a.extension, a.extension, self.proxy_host, from_tag, call_id, cseq,
                   method, extra, len(body.encode()), body))
        self.ws.send_text(text)
        return cseq

    def respond(self, request_headers, code, reason, to_tag, extra="", body=""):
        """A response to a request received: its Vias, Record-Routes, From, Call-ID and CSeq copied (RFC 3261 8.2.6)."""
        names = {"via": "Via", "record-route": "Record-Route", "from": "From", "call-id": "Call-ID", "cseq": "CSeq"}
        copied = "".join("%s: %s\r\n" % (names[n], v) for n, v in request_headers if n in names)
        to = header(request_headers, "to")
        if to_tag and ";tag=" not in to:
            to += ";tag=" + to_tag
        self.ws.send_text("SIP/2.0 %d %s\r\n%sTo: %s\r\n%sContent-Length: %d\r\n\r\n%s"
                          % (code, reason, copied, to, extra, len(body.encode()), body))

    def answer(self, wait):
        """Waits up to WAIT s for an INVITE, answers it, plays the tone to the offer until the BYE, answers that."""
        a = self.args
        deadline = time.monotonic() + wait
        while True:
            text = self.ws.receive_text(deadline - time.monotonic())
            if text is None:
                raise RuntimeError("no incoming call")
            start, headers, body = parse(text)
            if start.startswith("INVITE "):
                break
        to_tag = token()
        media_ip, media_port = media_of(body)
        contact = "Contact: <sip:%s@%s;transport=ws>\r\n" % (self.contact_user, self.contact_host)
        sdp = ("v=0\r\no=- %d 2 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\n"
               "a=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n"
               % (random.randint(1, 1 << 30), a.local_ip, a.local_ip, a.rtp_port))
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((a.local_ip, a.rtp_port))
        rtp.setblocking(False)
        self.respond(headers, 180, "Ringing", to_tag, contact)
        self.respond(headers, 200, "OK", to_tag, contact + "Content-Type: application/sdp\r\n", sdp)
        call_id = header(headers, "call-id")

        def hung_up():
            while select.select([self.ws.sock], [], [], 0)[0] or self.ws.buffer:
                text = self.ws.receive_text(0.5)
                if text is None:
                    return False
                start, bye_headers, _ = parse(text)
                if start.startswith("BYE ") and header(bye_headers, "call-id") == call_id:
                    self.respond(bye_headers, 200, "OK", None)
                    return True
            return False

        if not self.stream(rtp, (media_ip, media_port), 30, hung_up):
            raise RuntimeError("the caller did not hang up")
        rtp.close()

    def final_response(self, call_id, cseq, timeout=10):
        """The final response to our request (provisional ones skipped): (code, headers, body)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.ws.receive_text(deadline - time.monotonic())
            if text is None:
                break
            start, headers, body = parse(text)
            if not start.startswith("SIP/2.0 "):
                continue  # a request to us: not expected in this scenario
            code = int(start.split()[1])
            if header(headers, "call-id") == call_id and header(headers, "cseq").split()[0] == str(cseq) and code >= 200:
                return code, headers, body
        raise RuntimeError("no final response to CSeq %d" % cseq)

    def register(self):
        a = self.args
        call_id = token(22)
        contact = "<sip:%s@%s;transport=ws>;+sip.ice;reg-id=1;+sip.instance=\"<%s>\";expires=600" % (
            self.contact_user, self.contact_host, self.instance)
        cseq = self.request("REGISTER", "sip:" + self.proxy_host, call_id, token(),
                            "\"WebRTC %s\" <sip:%s@%s>" % (a.extension, a.extension, self.proxy_host),
                            "Contact: %s\r\nExpires: 600\r\nAllow: INVITE,ACK,CANCEL,BYE,OPTIONS\r\n"
                            "Supported: path,gruu,outbound\r\n" % contact)
        code, _, _ = self.final_response(call_id, cseq)
        if code != 200:
            raise RuntimeError("REGISTER answered %d" % code)

    def call(self):
        a = self.args
        call_id, from_tag = token(22), token()
        uri = "sip:%s@%s" % (a.callee, self.proxy_host)
        to = "<%s>" % uri
        sdp = ("v=0\r\no=- %d 2 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\n"
               "a=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n"
               % (random.randint(1, 1 << 30), a.local_ip, a.local_ip, a.rtp_port))
        contact = "Contact: <sip:%s@%s;transport=ws;ob>\r\n" % (self.contact_user, self.contact_host)
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((a.local_ip, a.rtp_port))
        rtp.setblocking(False)
        cseq = self.request("INVITE", uri, call_id, from_tag, to,
                            contact + "Allow: INVITE,ACK,CANCEL,BYE\r\nContent-Type: application/sdp\r\n", sdp)
        code, headers, body = self.final_response(call_id, cseq, 15)
        if code != 200:
            raise RuntimeError("INVITE answered %d" % code)
        to = header(headers, "to")
        target = header(headers, "contact").strip("<>").split(">")[0]
        # The route set: the 2xx's Record-Routes, last first (RFC 3261 12.1.2).
        routes = [r.strip() for n, v in headers if n == "record-route" for r in v.split(",")]
        route = "".join("Route: %s\r\n" % r for r in reversed(routes))
        self.request("ACK", target, call_id, from_tag, to, route, cseq=cseq)

        self.stream(rtp, media_of(body), a.seconds)

        cseq = self.request("BYE", target, call_id, from_tag, to, route)
        code, _, _ = self.final_response(call_id, cseq)
        rtp.close()
        if code != 200:
            raise RuntimeError("BYE answered %d" % code)

    def stream(self, rtp, peer, seconds, stop=None):
        """FREQ Hz PCMA in 20 ms packets on the wall clock for SECONDS, or until STOP() says so (then True); what
        arrives is drained."""
        a = self.args
        amplitude = 32767 * 10 ** (-10 / 20)
        ssrc, seq0, ts0 = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
        packets = int(seconds * 50)
        start = time.monotonic()
        received = 0
        stopped = False
        for i in range(packets):
            if stop is not None and stop():
                stopped = True
                break
            payload = bytes(alaw(round(amplitude * math.sin(2 * math.pi * a.freq * (i * 160 + n) / 8000)))
                            for n in range(160))
            head = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | 8, (seq0 + i) & 0xFFFF,
                               (ts0 + i * 160) & 0xFFFFFFFF, ssrc)
            rtp.sendto(head + payload, peer)
            while True:
                try:
                    rtp.recv(2048)
                    received += 1
                except BlockingIOError:
                    break
            delay = start + (i + 1) * 0.020 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        print("ws_phone: sent RTP to %s:%d for %.1f s, received %d packets" % (peer[0], peer[1], time.monotonic() - start, received),
              file=sys.stderr)
        return stopped


def media_of(sdp):
    """The c= address and m=audio port of an SDP body."""
    media_ip, media_port = None, None
    for line in sdp.split("\r\n"):
        if line.startswith("c=IN IP4 "):
            media_ip = line.split()[2]
        elif line.startswith("m=audio "):
            media_port = int(line.split()[1])
    if media_ip is None or media_port is None:
        raise RuntimeError("no media address in the SDP")
    return media_ip, media_port


def main():
    p = argparse.ArgumentParser()
    p.add_argument("proxy")
    p.add_argument("local_ip")
    p.add_argument("extension")
    p.add_argument("callee")
    p.add_argument("--freq", type=float, default=600.0)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rtp-port", type=int, default=7078)
    p.add_argument("--instance", default="urn:uuid:8f0a3c2e-5b1d-4c8e-9a7f-2d6e4b1c0a93")
    p.add_argument("--answer", type=float, default=0, metavar="SECONDS_TO_WAIT")
    args = p.parse_args()
    phone = Phone(args)
    try:
        phone.register()
        print("ws_phone: %s registered over WebSocket" % args.extension, file=sys.stderr)
        phone.call()
        print("ws_phone: call to %s done" % args.callee, file=sys.stderr)
        if args.answer > 0:
            phone.answer(args.answer)
            print("ws_phone: incoming call answered and done", file=sys.stderr)
    except (RuntimeError, OSError) as e:
        print("ws_phone: FAILED: %s" % e, file=sys.stderr)
        return 1
    finally:
        phone.ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

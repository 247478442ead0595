# NWK security on the HAN (ZigBee specification 4.3.1): every intra-PAN NWK frame secured with
# the network key at level 5 (ENC-MIC-32), with the auxiliary header carrying the frame
# counter, the sender's EUI-64 and the key sequence number. This is the object for
# firmware.zb_nwk's seam: parse_nwk says SECURED, unprotect() verifies and decrypts in place and
# hands back the end of the plaintext APS frame (it starts at .aux.end); protect() secures a
# frame the builders wrote in the clear.
#
# The receive path decides everything the header can decide before any AES work: a truncated
# header, another key identifier, an unknown key sequence number, a source EUI-64 that is not a
# member (or not the member the frame's MAC address names), and a replayed counter are dropped
# on the header alone; only then does CCM* run. Each drop is counted by reason in `rejected`;
# none allocates.

from firmware import sec_aes as aes
from firmware import sec_ccm as ccm
from firmware import sec_frame as secframe

OK = const(0)
TRUNCATED = const(1)  # secframe.TRUNCATED
NO_SOURCE = const(2)  # secframe.NO_SOURCE: no extended nonce
NOT_NETWORK_KEY = const(3)  # secured with another key identifier
UNKNOWN_KEY = const(4)  # a key sequence number the hub does not hold
UNKNOWN_SOURCE = const(5)  # the auxiliary header's EUI-64 is not a member
REPLAYED = const(6)  # a frame counter not above the last one accepted from that member
# (UNKNOWN_SOURCE and REPLAYED are firmware.sec_counters' NOT_MEMBER and STALE, 4 up)
BAD_MIC = const(7)
BUSY = const(8)  # receive(): the caller's CCM* budget is spent (not in NAMES: the caller counts)
NAMES = (
    "ok",
    "sec_truncated",
    "sec_no_source",
    "sec_not_network_key",
    "sec_unknown_key",
    "sec_unknown_source",
    "sec_replayed",
    "sec_bad_mic",
)

_FC_SECURITY = const(0x02)  # NWK frame control 0x0200, in its second octet
_AUX_LEN = const(14)  # with the extended nonce and the key sequence number
_SHAPE_MASK = const(0x38)  # security control: extended nonce, key identifier
_SHAPE = const(0x28)  # extended nonce, the network key

# Every method on the frame paths keeps its frame within MicroPython's 11 words (see
# firmware.sec_ccm), which is why some work is split into small helpers.


class NwkSecurity:
    def __init__(
        self, eui, members, incoming, outgoing, level=secframe.LEVEL, nh=None, budget=None, base=0
    ):
        # eui: the hub's EUI-64 (most significant first). members: find_le(buf, off) -> slot
        # of the member whose EUI-64 is in air order at buf[off:off+8], or -1
        # (firmware.han_device_table.DeviceTable). incoming, outgoing: firmware.sec_counters.
        # For receive(): nh, the NWK header object that parsed the frames (its payload_off is
        # the auxiliary header's offset); budget, an allow(now) in front of the AES work (a
        # firmware.dos_limits.Gcra) or None; base, added to every reason receive() gives.
        self.nh = nh if nh is not None else _Span()
        self.budget = budget
        self.base = base
        self._f = _Span()  # unprotect()'s frame bounds, for receive()
        self.members = members
        self.incoming = incoming
        self.outgoing = outgoing
        self.mic_len = ccm.MIC_LEN[level]
        self.tx = secframe.AuxHeader(secframe.KEY_NETWORK, bytes(eui), level)
        self.aux = secframe.AuxHeader(secframe.KEY_NETWORK, None, level)  # the last received
        self._enc = [None, None]  # [active, alternate] encrypt methods
        # (their key sequence numbers are kept in incoming: IncomingCounters.hold and held)
        self._o = 0  # the auxiliary header's offset of the frame being opened
        self.slot = -1  # the member whose frame unprotect() last accepted
        self.rejected = [0] * len(NAMES)

    # --- keys -------------------------------------------------------------------------------

    def set_key(self, key, seq):
        # Holds network key `seq`: the active key when there is none yet (or it is `seq`),
        # otherwise the alternate, accepted on receive beside the active one.
        i = 0 if self._enc[0] is None or self.key_seq() == seq & 0xFF else 1
        self._enc[i] = aes.new(key).encrypt
        self.incoming.hold(i, seq & 0xFF)
        self.tx.key_seq = self.key_seq()

    def switch_key(self, seq):
        # Switch-Key: the alternate key `seq` becomes the one the hub sends with. The old key
        # stays the alternate, still accepted on receive from a neighbour that has not switched
        # yet (once a neighbour has used the new key its old-key frames are refused: see
        # firmware.sec_counters), until drop_old(). False when the hub does not hold `seq`.
        if self.key_seq() == seq:
            return True
        if self.old_seq() != seq:
            return False
        self._enc[0], self._enc[1] = self._enc[1], self._enc[0]
        self.incoming.hold(1, self.key_seq())
        self.incoming.hold(0, seq)
        self.tx.key_seq = seq
        return True

    def drop_old(self):
        # Every neighbour has switched (or the grace period is over): the old key goes.
        self._enc[1] = None
        self.incoming.hold(1, -1)

    def old_seq(self):
        # The alternate key's sequence number, or -1.
        return self.incoming.held(1)

    def key_seq(self):
        return self.incoming.held(0)

    # --- sending ----------------------------------------------------------------------------

    def protect(self, buf, nwk_off, hdr_end, end):
        # Secures the NWK frame buf[nwk_off:end] with its header ending at hdr_end, in place:
        # the payload moves up to make room for the auxiliary header, and the MIC follows it.
        # Returns the new end, or -1 when it cannot be sent secured (no key, no room, or no
        # frame counter: see firmware.sec_counters).
        if self._enc[0] is None or end + _AUX_LEN + self.mic_len > len(buf):
            return -1
        self.tx.counter = self.outgoing.next()
        if self.tx.counter < 0:
            return -1
        _shift_up(buf, hdr_end, end)
        buf[nwk_off + 1] |= _FC_SECURITY
        secframe.write(buf, hdr_end, self.tx)
        return self._seal(buf, nwk_off, end + _AUX_LEN)

    def _seal(self, buf, nwk_off, m_end):
        return secframe.seal(self._enc[0], buf, nwk_off, self.tx, m_end)

    # --- receiving --------------------------------------------------------------------------

    def unprotect(self, buf, nwk_off, aux_off, end):
        # The NWK frame buf[nwk_off:end] (end: its last octet + 1, before the MAC FCS) whose
        # auxiliary header starts at aux_off (firmware.zb_nwk's payload_off for a SECURED frame).
        # Returns the end of the plaintext, which starts at self.aux.end, with self.slot the
        # sender; or minus a reason (NAMES), counted in self.rejected.
        self._f.payload_off = nwk_off
        self._f.payload_end = end
        self.nh.payload_off = aux_off
        end = self.receive(-1, buf, self._f, 0)
        if end < 0:
            self.rejected[-end - self.base] += 1
        return end

    def receive(self, s, buf, f, now):
        # The secured NWK frame buf[f.payload_off:f.payload_end], its auxiliary header at
        # self.nh.payload_off, from the member in slot s (the HAN knows it from the MAC source
        # address), or s = -1 to find it by the header's EUI-64 (members.find_le). Returns the
        # end of the plaintext (it starts at self.aux.end), or minus (base + a reason). Counts
        # nothing. Everything the header alone decides comes first (check), cheapest first;
        # then the budget and CCM* (passed).
        s = self.check(s, buf, f)
        if s < 0:
            return s
        return self.passed(s, buf, f, now)

    def check(self, s, buf, f):
        # receive()'s header checks: the sender's slot, or minus (base + a reason). The common
        # shape (extended nonce, network key, long enough) is read from the octets; anything
        # else goes to the full parse for its reason. (The hub's mac.route makes these checks
        # natively for its members' frames: tests_device/test_route.py holds the two together.)
        o = self.nh.payload_off
        if o + _AUX_LEN + 4 > f.payload_end or buf[o] & _SHAPE_MASK != _SHAPE:
            return -self._odd(buf, o, f.payload_end) - self.base
        if self.incoming.key_of(buf, o) < 0:
            return -(self.base + UNKNOWN_KEY)
        if s < 0:
            s = self.members.find_le(buf, o + 5)
            if s < 0:
                return -(self.base + UNKNOWN_SOURCE)
        o = self.incoming.admit(s, buf, o)  # the sender, then its counter (o reused: 11 words)
        if o:
            return -(self.base + UNKNOWN_SOURCE - 1 + o)  # (counters.NOT_MEMBER 1, STALE 2)
        return s

    def passed(self, s, buf, f, now):
        # A frame from the member in slot s that passed every header check (check(), or the
        # hub's mac.route), its auxiliary header at self.nh.payload_off: the budget, then CCM*.
        # The end of the plaintext, or minus (base + BUSY or BAD_MIC).
        if self.budget is not None and not self.budget.allow(now):
            return -(self.base + BUSY)
        self.slot = s
        self._o = self.nh.payload_off
        s = self.open(buf, f.payload_off, f.payload_end)  # (s reused)
        return s if s >= 0 else -(self.base + BAD_MIC)

    def _odd(self, buf, o, end):
        r = secframe.parse(buf, o, end, self.aux)
        return r if r else NOT_NETWORK_KEY  # (parse passes a short key-transport header)

    def open(self, buf, nwk_off, end):
        # After the header checks: CCM*, the end of the plaintext or -1 (a bad MIC). Only an
        # authentic frame moves the counter. The auxiliary header is filled in only here, for
        # the frames that get this far.
        self._aux(buf)
        end = secframe.unseal(
            self._enc[self.incoming.key_of(buf, self._o)], buf, nwk_off, self.aux, end
        )
        if end >= 0:
            self.incoming.accept(self.slot, buf, self._o + 1, self.aux.key_seq)
        return end

    def _aux(self, buf):
        h = self.aux
        o = self._o
        h.off = o
        h.sc = buf[o]
        h.key_id = secframe.KEY_NETWORK
        h.key_seq = buf[o + 13]
        h.src_off = o + 5
        h.end = o + _AUX_LEN


def _shift_up(buf, p, end):
    # buf[p:end] moves up by the auxiliary header's length (from the end down: they overlap)
    for i in range(end - 1, p - 1, -1):
        buf[i + _AUX_LEN] = buf[i]


class _Span:
    # The offsets receive() reads, where the caller has no frame objects (unprotect()).
    payload_off = 0
    payload_end = 0

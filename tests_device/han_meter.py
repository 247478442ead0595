# A meter's end of the HAN's NWK security, for the HAN tests: it secures the frames it sends the
# hub (han_frames builds them in the clear) and opens the hub's. A module of its own so that
# han_frames' users (the soak, the RAM benchmark) load no security code they do not use.
from firmware import zb_nwk as nwk
from firmware.sec_counters import IncomingCounters, OutgoingCounter
from firmware.sec_nwk import NwkSecurity
from tests_device.han_frames import HUB_EUI
from tests_device.vectors import with_fcs

_NWK_OFF = 9  # the MAC header: a data frame with short addresses and PAN ID compression


class _Hub:
    # A meter's one neighbour, for its NwkSecurity's member lookup.
    def __init__(self, eui):
        self.eui = eui

    def find_le(self, buf, off):
        for j in range(8):
            if buf[off + j] != self.eui[7 - j]:
                return -1
        return 0


class Meter:
    def __init__(self, eui, key, seq=0, counter=0, hub=HUB_EUI):
        incoming = IncomingCounters(1)
        incoming.assign(0, hub)
        out = OutgoingCounter(None, step=1 << 20)
        out.value = counter
        self.sec = NwkSecurity(eui, _Hub(hub), incoming, out)
        self.sec.set_key(key, seq)

    def secure(self, psdu):
        # The PSDU (FCS included) sent NWK-secured.
        buf = bytearray(127)
        n = len(psdu) - 2
        for i in range(n):
            buf[i] = psdu[i]
        end = self.sec.protect(buf, _NWK_OFF, _NWK_OFF + nwk.NWK_HEADER_LEN, n)
        return with_fcs(buf, end)

    def open(self, psdu):
        # A secured frame from the hub, as it was before NWK security: the PSDU with the
        # security bit clear and no auxiliary header or MIC; None if it does not verify.
        buf = bytearray(psdu)
        hdr = _NWK_OFF + nwk.NWK_HEADER_LEN
        end = self.sec.unprotect(buf, _NWK_OFF, hdr, len(buf) - 2)
        if end < 0:
            return None
        out = bytearray(buf[:hdr]) + buf[self.sec.aux.end : end]
        out[_NWK_OFF + 1] &= 0xFD
        return with_fcs(out, len(out))

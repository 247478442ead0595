# Radio interface: an IEEE 802.15.4 transceiver at frame level (PHY + the MAC features a chip
# such as the MRF24J40 does in hardware: FCS, address filtering, auto-ACK).
#
# Frames are received into a contract.frame.RxFrame the caller owns (allocation-free).
#
# Each radio keeps `stats`, a dict of counters (names of its own), with "rx": the frames recv()
# has filled. It is the receive count of record (the app's stats event and status report it):
# the hub does not count frames a second time on its receive path.


class Radio:
    # Capacity an RxFrame for this radio needs in front of the PSDU.
    HEADROOM = 0

    def configure(self, channel, pan_id, short_addr, ext_addr):
        # channel 11..26; pan_id and short_addr ints; ext_addr 8 bytes, most significant first.
        raise NotImplementedError

    def send(self, buf, n):
        # Transmit the MPDU buf[0:n] (no FCS: the radio appends it). Never blocks the event
        # loop: returns True when the frame was handed on (sent, or queued behind one on air),
        # False when refused (a bad length, a full queue), which the radio counts. buf may be
        # reused as soon as it returns.
        raise NotImplementedError

    def recv(self, frame):
        # Non-blocking: fill frame and return True, or return False when nothing is pending.
        raise NotImplementedError

    async def wait_rx(self):
        # Return when recv() may have a frame (spurious wake-ups are allowed).
        raise NotImplementedError

    def hello(self):
        # Announce this node where the transport needs it (ZEP: to the dispatcher). The app
        # calls it at start and every few seconds; radios on real air do nothing.
        pass

    def close(self):
        pass

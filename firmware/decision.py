# The contract between the functional core and the shell: the decision a core module returns
# for a received frame, and the one object every core module writes its outputs into. The app
# owns an Outputs, hands it to the hub, the HAN and the command layer, and drains it one way
# after every receive batch and every tick:
#   tx          the frame a TRANSMIT decision sends (tx_buf[0:tx_len], tx_kind for the log)
#   notes       events for the log and the head-end, (event, fields), bounded
#   wan         (type, GBCS message) for the head-end: response copies (contract.wan_msg
#               GBCS_COPY) and meters' answers to the head-end's own commands (GBCS), bounded
#   radio       frames to send outside a receive decision (to awake members, meters' answers
#               for an HHT), a contract.ring.SlotRing of preallocated buffers
# Bounds are backstops: the shell drains every wake-up. What overflows is counted, never
# allocated for.

from contract.frame import PSDU_MAX
from contract.ring import SlotRing

NOTHING = const(0)
TRANSMIT = const(1)
NOT_MINE = const(-1)  # a frame handler's answer: not mine, the dispatcher goes on looking

# What a TRANSMIT decision sends, for the shell's log.
TX_BEACON = const(1)
TX_DISCOVERY = const(2)
TX_REPLY = const(3)
TX_HAN = const(4)

# What the command layer made of an inter-PAN command, for the hub's DoS accounting.
CMD_REJECTED = const(0)  # failed authentication (or junk): counted, never answered
CMD_ANSWERED = const(1)  # authenticated but not accepted (duplicate, refused...): answered only
CMD_ACCEPTED = const(2)  # authenticated and accepted: answered, and a keep-alive

_NOTES_MAX = const(32)
_WAN_MAX = const(8)
_RADIO_SLOTS = const(4)


class Outputs:
    def __init__(self, notes_max=_NOTES_MAX, wan_max=_WAN_MAX, radio_slots=_RADIO_SLOTS):
        self.tx_buf = None
        self.tx_len = 0
        self.tx_kind = 0
        self.notes = []
        self.notes_max = notes_max
        self.notes_dropped = 0
        self.wan = []
        self.wan_max = wan_max
        self.wan_dropped = 0
        self.radio = SlotRing([bytearray(PSDU_MAX) for _ in range(radio_slots)])

    def transmit(self, buf, n, kind):
        # The decision's frame; returns TRANSMIT for the caller to hand back.
        self.tx_buf = buf
        self.tx_len = n
        self.tx_kind = kind
        return TRANSMIT

    def note(self, event, **fields):
        if len(self.notes) >= self.notes_max:
            self.notes_dropped += 1
            return
        self.notes.append((event, fields))

    def to_wan(self, kind, msg):
        if len(self.wan) >= self.wan_max:
            self.wan_dropped += 1
            return False
        self.wan.append((kind, msg))
        return True

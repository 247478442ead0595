# The functional core, wired: the one place that builds the hub, the command layer and the HAN
# with their collaborators. The app does it at boot; tests, the soak and the benchmarks do it
# the same way. Dependencies point one way: the hub dispatches frames to the command layer and
# the HAN; the command layer reaches the HAN (membership, forwarding) and the inter-PAN flag;
# every one of them writes its outputs into the one Outputs the shell drains.

from contract.frame import PSDU_MAX
from firmware.cmd_pipeline import Commands
from firmware.decision import Outputs
from firmware.han_device_log import DeviceLog
from firmware.hub import Hub
from firmware.ipan_flag import Flag
from firmware.ipan_rules import InterPan
from firmware.zb_interpan import Replier


class Core:
    # storage None: nothing persisted (tests). parties None: no command layer (every command
    # fails authentication). commands: the command layer's class, or one already built (tests).
    # han: whether a HAN layer runs.
    def __init__(
        self,
        settings,
        storage=None,
        parties=None,
        store=None,
        clock=None,
        han=False,
        commands=None,
    ):
        s = settings
        eui = s.eui64()
        self.out = Outputs()
        self.device_log = DeviceLog(storage, capacity=s["han.device_log_max"])
        self.flag = Flag(InterPan(s["interpan.keepalive_s"], s["interpan.max_open_s"]), self.out)
        self.replier = Replier(s["radio.pan_id"], eui, PSDU_MAX)
        self.han = None
        if han:
            from firmware import han as hanmod  # only where a HAN runs: it is the largest module

            self.han = hanmod.from_settings(s, storage, self.device_log, self.out)
        if commands is None:
            commands = Commands
        if not isinstance(commands, type):
            self.commands = commands
        elif parties is None:
            self.commands = None
        else:
            self.commands = commands(
                parties,
                store,
                clock,
                self.out,
                eui,
                self.flag,
                self.device_log,
                self.replier,
                self.han,
                settings=s,
            )
        self.hub = Hub(
            s, self.out, self.device_log, self.flag, self.replier, self.commands, self.han
        )

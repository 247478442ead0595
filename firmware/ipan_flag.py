# Inter-PAN access: the flag that says whether the hub answers inter-PAN frames, with every
# change noted for the log and the head-end. The rules are firmware.ipan_rules's state machine;
# this holds it, and the one fact the rules turn on that arrives from elsewhere: whether the WAN
# is present. The hub's gate, the command layer and the shell's timers all act through it.


class Flag:
    def __init__(self, interpan, out):
        self.rules = interpan
        self.out = out
        self.wan_present = True

    def noted(self, change):
        # True when the flag changed (each change, and any prior one, is noted first).
        if change is None:
            return False
        if change.prior is not None:
            self.noted(change.prior)
        self.out.note("interpan", **change.to_dict())
        return True

    def is_on(self):
        return self.rules.is_on()

    def seconds_left(self, now):
        return self.rules.seconds_left(now)

    def power_up(self, now):
        self.noted(self.rules.power_up(now))

    def tick(self, now):
        # A countdown that ran out ends here; True when it did.
        return self.noted(self.rules.tick(now))

    def wan_lost(self, now):
        self.wan_present = False
        self.noted(self.rules.wan_lost(now))

    def wan_restored(self, now):
        self.wan_present = True
        self.noted(self.rules.wan_restored(now))

    def command_accepted(self, now):
        # The keep-alive: authenticated, accepted inter-PAN commands only.
        self.noted(self.rules.command_accepted(now))

    def off(self, now):
        self.noted(self.rules.off_command(now))

    def trusted_enable(self, now):
        self.noted(self.rules.trusted_enable(now))

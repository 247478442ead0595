# Indicators: the hub's LEDs (or, in simulation, an event line). Names: "power", "join",
# "interpan", "wan". Setting the state it already has is a no-op.


class Indicators:
    def __init__(self):
        self.state = {}

    def set(self, name, on):
        on = bool(on)
        if self.state.get(name) is on:
            return
        self.state[name] = on
        self._show(name, on)

    def _show(self, name, on):
        raise NotImplementedError

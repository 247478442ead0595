# Watchdog interface. Only the supervisor task feeds it, and only while every other task has
# reported in; a board may leave it disabled (setting or boot pin) so that an mpremote session
# is not reset under the engineer.


class Watchdog:
    def start(self, timeout_ms):
        raise NotImplementedError

    def feed(self):
        raise NotImplementedError

# AES-128 block encryption: the one primitive ZigBee security is built on (CCM* in
# firmware.sec_ccm, the Matyas-Meyer-Oseas hash in firmware.sec_mmo). MicroPython's cryptolib on
# the board and the unix port; on CPython, pycryptodome (pinned in requirements.txt). Both objects
# that new() returns encrypt whole 16-octet blocks in ECB mode with encrypt(src, dst), in place
# when src is dst, allocating nothing.

try:
    from cryptolib import aes as _aes

    def _ecb(key):
        return _aes(key, 1)  # mode 1: ECB

except ImportError:  # CPython
    from Crypto.Cipher import AES as _AES

    def _ecb(key):
        return _AES.new(key, _AES.MODE_ECB)


KEY_LEN = 16
BLOCK = 16


def new(key):
    # An AES-128 encryptor for key (16 octets, any buffer).
    key = bytes(key)
    if len(key) != KEY_LEN:
        raise ValueError("AES-128 needs a 16-octet key, not %d" % len(key))
    return _ecb(key)

"""Property: firmware.sec_ccm agrees with an independent CCM, pycryptodome's AES-CCM, wherever the
two modes coincide (CCM* with a MIC is CCM with L = 2 and a 13-octet nonce; a MIC-only level is
CCM over an empty message with the whole frame as associated data), for any key, nonce, header
and payload; and the encryption-only level 4 is the same counter-mode key stream."""

from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import sec_aes as aes
from firmware import sec_ccm as ccm

keys = st.binary(min_size=16, max_size=16)
nonces = st.binary(min_size=13, max_size=13)
headers = st.binary(min_size=0, max_size=60)
payloads = st.binary(min_size=0, max_size=100)


def sealed(key, nonce, a, m, level):
    ccm.NONCE[:] = nonce
    buf = bytearray(a + m + bytes(16))
    ccm.use(aes.new(key).encrypt, buf, level)
    end = ccm.seal(0, len(a), len(a) + len(m))
    return bytes(buf[len(a) : end])


@settings(max_examples=300, deadline=None)
@given(keys, nonces, headers, payloads, st.sampled_from((5, 6, 7)))
def test_enc_mic_levels_are_ccm(key, nonce, a, m, level):
    mic = ccm.MIC_LEN[level]
    ref = AES.new(key, AES.MODE_CCM, nonce=nonce, mac_len=mic, msg_len=len(m), assoc_len=len(a))
    ref.update(a)
    c, tag = ref.encrypt_and_digest(m)
    assert sealed(key, nonce, a, m, level) == c + tag


@settings(max_examples=200, deadline=None)
@given(keys, nonces, headers, payloads, st.sampled_from((1, 2, 3)))
def test_mic_only_levels_are_ccm_over_the_whole_frame(key, nonce, a, m, level):
    mic = ccm.MIC_LEN[level]
    ref = AES.new(key, AES.MODE_CCM, nonce=nonce, mac_len=mic, msg_len=0, assoc_len=len(a + m))
    ref.update(a + m)
    assert sealed(key, nonce, a, m, level) == m + ref.digest()


@settings(max_examples=200, deadline=None)
@given(keys, nonces, headers, payloads)
def test_enc_only_level_is_the_ccm_key_stream(key, nonce, a, m):
    # Counter blocks 0x01 || nonce || i from i = 1, as in CCM's payload encryption.
    ref = AES.new(key, AES.MODE_CTR, nonce=b"\x01" + nonce, initial_value=1)
    assert sealed(key, nonce, a, m, 4) == ref.encrypt(m)


@settings(max_examples=200, deadline=None)
@given(keys, nonces, headers, payloads, st.integers(0, 7), st.binary(min_size=1, max_size=8))
def test_unseal_never_raises_and_rejects_junk(key, nonce, a, junk, level, tail):
    # Random octets after a header: unseal returns -1 or (no MIC to check) the payload end; it
    # never raises and never reads or writes outside [0, end).
    ccm.NONCE[:] = nonce
    buf = bytearray(a + junk + tail)
    end = len(buf)
    guard = bytearray(buf)
    ccm.use(aes.new(key).encrypt, buf, level)
    r = ccm.unseal(0, len(a), end)
    mic = ccm.MIC_LEN[level]
    if mic == 0:
        assert r == end
    else:
        assert r in (-1, end - mic)
    assert bytes(buf[: len(a)]) == bytes(guard[: len(a)])

"""make deploy's decisions (tools/deploy.py), from the board's answers to the build's figures.

No board is attached here: the decision is a pure function of what the probe reports, and the
probe itself runs on the MicroPython unix port to show it answers in the form parse_probe reads.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tools import deploy

KB = 1024
NEEDS = {"mpy": 158 * KB, "romfs": 95 * KB, "frozen": 62 * KB, "commit": "abc1234"}
BYTECODE = {(6, 3, 0)}  # the build's .mpy headers: bytecode only, no architecture
XTENSAWIN = 10
IMAGE = 110 * KB  # ROMFS image
MPY = 170 * KB  # .mpy files copied


def board(**kw):
    # A stock ESP32_GENERIC v1.29.0 as the probe reports it, with overrides.
    b = {
        "version": [1, 29, 0],
        "mpy": 6 | 3 << 8 | XTENSAWIN << 10,
        "machine": "Generic ESP32 module with ESP32",
        "romfs": False,
        "rom_size": -1,
        "frozen": False,
        "dirs": [],
        "fs_free": 2000 * KB,
        "heap_free": 110 * KB,
    }
    b.update(kw)
    return b


def plan(b, headers=BYTECODE, target=(1, 29, 0)):
    return deploy.plan(b, headers, NEEDS, IMAGE, MPY, target)


def refusal(b, **kw):
    with pytest.raises(deploy.Refused) as e:
        plan(b, **kw)
    msg = str(e.value)
    assert "\n" not in msg  # one line
    return msg


# --- ABI and version ---------------------------------------------------------------------------


def test_an_older_mpy_version_is_refused_naming_the_release_to_flash():
    msg = refusal(board(version=[1, 19, 1], mpy=5 | 9 << 10))
    assert "1.19.1" in msg and "flash MicroPython 1.29.0" in msg


def test_a_board_without_mpy_support_is_refused():
    assert "loads .mpy version none" in refusal(board(mpy=0))


def test_bytecode_loads_on_any_architecture_and_sub_version():
    # A bytecode-only .mpy checks only the version (py/persistentcode.h).
    path, _ = plan(board(mpy=6 | 1 << 8 | 11 << 10, heap_free=400 * KB))
    assert path == "mpy"


def test_native_code_for_another_architecture_is_refused_naming_the_flag():
    msg = refusal(board(mpy=6 | 3 << 8 | 11 << 10), headers={(6, 3, XTENSAWIN)})
    assert "native code for xtensawin" in msg and "MPY_ARCH=rv32imc" in msg


def test_native_code_for_another_sub_version_is_refused():
    assert "6.2" in refusal(board(mpy=6 | 2 << 8 | XTENSAWIN << 10), headers={(6, 3, XTENSAWIN)})


def test_another_release_with_the_same_abi_is_reported_not_refused():
    path, notes = plan(board(version=[1, 25, 0], heap_free=400 * KB))
    assert path == "mpy" and "1.25.0" in notes[0] and "1.29.0" in notes[0]


# --- where the firmware goes -------------------------------------------------------------------


def test_frozen_firmware_needs_only_boot_and_main():
    path, notes = plan(board(frozen=True, heap_free=100 * KB))
    assert path == "frozen" and notes == []


def test_frozen_firmware_short_of_heap_is_deployed_with_a_warning():
    path, notes = plan(board(frozen=True, heap_free=70 * KB))
    assert path == "frozen" and "70 KB" in notes[0]


def test_romfs_when_the_partition_holds_the_image_and_the_heap_fits():
    path, _ = plan(board(romfs=True, rom_size=128 * KB, heap_free=130 * KB))
    assert path == "romfs"


def test_romfs_needs_its_peak_plus_the_reserve():
    b = board(romfs=True, rom_size=128 * KB, heap_free=NEEDS["romfs"] + deploy.RESERVE - 1)
    msg = refusal(b)
    assert "freeze it" in msg


def test_a_partition_too_small_for_the_image_falls_back_to_mpy_where_that_fits():
    path, notes = plan(board(romfs=True, rom_size=64 * KB, heap_free=400 * KB))
    assert path == "mpy" and "does not fit the board's ROMFS partition (64 KB)" in notes[0]


def test_a_partition_too_small_and_no_heap_for_mpy_names_the_size_to_grow_it_to():
    msg = refusal(board(romfs=True, rom_size=64 * KB, heap_free=150 * KB))
    assert "grow it to 110 KB" in msg


def test_romfs_support_without_a_partition_names_the_partition_to_add():
    msg = refusal(board(romfs=True, rom_size=-1, heap_free=150 * KB))
    assert "add a romfs partition of 110 KB or more" in msg


def test_mpy_without_romfs_where_the_heap_fits():
    path, _ = plan(board(heap_free=NEEDS["mpy"] + deploy.RESERVE))
    assert path == "mpy"


def test_a_stock_board_short_of_heap_is_refused_with_the_figures_and_the_way_out():
    msg = refusal(board(heap_free=110 * KB))
    assert msg.startswith("refused: 110 KB of free heap")
    assert "188 KB with its .mpy files copied" in msg  # 158 + 30 reserve
    assert "no ROMFS" in msg and deploy.WAY_OUT in msg


def test_mpy_needs_room_on_the_filesystem_too():
    assert "refused" in refusal(board(heap_free=400 * KB, fs_free=100 * KB))


def test_a_filesystem_size_the_port_cannot_report_does_not_block():
    path, _ = plan(board(heap_free=400 * KB, fs_free=-1))
    assert path == "mpy"


# --- the steps ---------------------------------------------------------------------------------


def test_romfs_steps_deploy_the_image_remove_stale_copies_and_reset():
    steps = deploy.mpremote_steps(
        "romfs", board(dirs=["firmware", "hal"]), "/dev/ttyUSB0", "build/deploy", "x.romfs", "m"
    )
    assert steps[0] == ["connect", "/dev/ttyUSB0", "romfs", "deploy", "x.romfs"]
    copy = steps[1]
    assert copy[copy.index("rm") :][:3] == ["rm", "-r", ":firmware"]
    assert ":hal" in copy and ":boards" not in copy  # only what is there: rm -r of nothing fails
    assert "build/deploy/firmware" not in copy  # the packages live in ROMFS
    assert copy[-4:] == ["cp", "build/deploy/boot.py", "build/deploy/main.py", ":"]
    assert "from boards import m" in steps[2][-1]
    assert steps[-1] == ["connect", "/dev/ttyUSB0", "reset"]


def test_mpy_steps_copy_the_packages():
    steps = deploy.mpremote_steps("mpy", board(), "p", "d", "x.romfs", "m")
    assert steps[0][2:5] == ["fs", "cp", "-r"]
    assert [os.path.join("d", p) for p in deploy.PACKAGES] == steps[0][5:9]


def test_frozen_steps_copy_only_boot_and_main():
    steps = deploy.mpremote_steps("frozen", board(dirs=["firmware"]), "p", "d", "x.romfs", "m")
    assert steps[0] == ["connect", "p", "fs", "rm", "-r", ":firmware", "+", "fs", "cp"] + [
        "d/boot.py",
        "d/main.py",
        ":",
    ]


# --- the probe and the figures -----------------------------------------------------------------


def test_probe_answers_on_micropython_and_is_read_back():
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(mp):
        pytest.skip("no MicroPython unix port in the environment")
    out = subprocess.run(
        [mp, "-c", deploy.PROBE], capture_output=True, text=True, env={"MICROPYPATH": ".frozen"}
    ).stdout
    b = deploy.parse_probe(out)
    assert b["mpy"] & 0xFF == 6 and b["heap_free"] > 0 and b["frozen"] is False
    assert b["romfs"] is False and b["rom_size"] == -1


@pytest.mark.parametrize("out", ["", "PROBE {", "PROBE []", 'PROBE {"mpy": 1}', "Traceback"])
def test_a_garbled_probe_answer_is_refused(out):
    with pytest.raises(deploy.Refused):
        deploy.parse_probe(out)


def test_needs_are_read_from_the_doc(tmp_path):
    doc = tmp_path / "p.md"
    doc.write_text('x\n<!-- ram-needs {"mpy": 1, "romfs": 2} -->\n')
    assert deploy.read_needs(str(doc)) == {"mpy": 1, "romfs": 2}
    doc.write_text("no figures\n")
    with pytest.raises(deploy.Refused):
        deploy.read_needs(str(doc))


def test_the_committed_doc_holds_figures_for_both_paths():
    needs = deploy.read_needs()
    assert needs["mpy"] > needs["romfs"] > 0


def test_mpy_headers_are_read_and_junk_refused(tmp_path):
    (tmp_path / "a.mpy").write_bytes(b"M\x06\x03\x1f")
    (tmp_path / "b.mpy").write_bytes(b"M\x06\x2b\x1f")  # sub-version 3, xtensawin
    assert deploy.mpy_headers(str(tmp_path)) == {(6, 3, 0), (6, 3, XTENSAWIN)}
    (tmp_path / "c.mpy").write_bytes(b"print(1)")
    with pytest.raises(deploy.Refused):
        deploy.mpy_headers(str(tmp_path))


def test_a_missing_build_is_one_line_and_a_non_zero_exit(tmp_path, capsys):
    rc = deploy.main(["--port", "p", "--mpy-dir", str(tmp_path / "none"), "--deploy-dir", "x"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "make mpy" in err


def test_assemble_leaves_out_the_simulation_and_writes_main_for_another_board(tmp_path):
    mpy = tmp_path / "mpy"
    for f in ("contract/a.mpy", "firmware/b.mpy", "hal/sim/c.mpy", "hal/fake/d.mpy", "hal/e.mpy"):
        (mpy / f).parent.mkdir(parents=True, exist_ok=True)
        (mpy / f).write_bytes(b"M\x06\x03\x1f")
    (mpy / "boards").mkdir()
    (mpy / "boards" / "sim.mpy").write_bytes(b"M\x06\x03\x1f")
    (mpy / "boards" / "fake.mpy").write_bytes(b"M\x06\x03\x1f")
    (mpy / "boards" / "x.mpy").write_bytes(b"M\x06\x03\x1f")
    out = tmp_path / "deploy"
    deploy.assemble(str(mpy), str(out), "esp32_c3_devkitm")
    assert not (out / "hal" / "sim").exists() and not (out / "hal" / "fake").exists()
    assert not (out / "boards" / "sim.mpy").exists() and (out / "boards" / "x.mpy").exists()
    assert not (out / "boards" / "fake.mpy").exists()
    assert "from boards import esp32_c3_devkitm as board" in (out / "main.py").read_text()
    image = str(tmp_path / "fw.romfs")
    n = deploy.build_image(str(out), image)
    assert n == os.path.getsize(image) and open(image, "rb").read(3) == b"\xd2\xcd\x31"
    shutil.rmtree(str(out))

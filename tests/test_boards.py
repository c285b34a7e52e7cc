"""Board files (accel/core/boards/*.yaml) and their loader (schema: accel.core.config.BoardFile;
every bad case through the CLI: tests/test_config.py)."""

import pytest

from accel.core import boards
from accel.core.errors import AccelError
from accel.hls import generate

Z7010 = {"LUT": 17600, "FF": 35200, "BRAM36": 60, "DSP48E1": 80}
Z7020 = {"LUT": 53200, "FF": 106400, "BRAM36": 140, "DSP48E1": 220}
EXPECTED = {  # design.md section 1
    "zybo": ("xc7z010clg400-1", None, Z7010),
    "zybo-z7-10": ("xc7z010clg400-1", "digilentinc.com:zybo-z7-10:part0:1.2", Z7010),
    "zybo-z7-20": ("xc7z020clg400-1", "digilentinc.com:zybo-z7-20:part0:1.2", Z7020),
    "pynq-z2": ("xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0", Z7020),
}


def test_the_four_boards():
    assert boards.names() == sorted(EXPECTED)
    for name, (part, board_part, cap) in EXPECTED.items():
        b = boards.get(name)
        assert (b.name, b.part, b.board_part, b.capacity) == (name, part, board_part, cap)
        assert b.clock_mhz == 100 and b.clock_ns == 10
        assert b.ddr_mb in (512, 1024)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ps7_preset_values(name):
    ps7 = boards.get(name).ps7
    # the explicit preset: DDR, MIO voltage banks, UART, SD, Ethernet as on the board
    for key in ("PCW_UIPARAM_DDR_PARTNO", "PCW_UIPARAM_DDR_BUS_WIDTH", "PCW_PRESET_BANK0_VOLTAGE",
                "PCW_PRESET_BANK1_VOLTAGE", "PCW_SD0_PERIPHERAL_ENABLE", "PCW_ENET0_PERIPHERAL_ENABLE"):
        assert key in ps7, key
    assert ps7["PCW_PRESET_BANK1_VOLTAGE"] == "LVCMOS 1.8V"
    uart = "PCW_UART0_UART0_IO" if name == "pynq-z2" else "PCW_UART1_UART1_IO"
    assert ps7[uart] == ("MIO 14 .. 15" if name == "pynq-z2" else "MIO 48 .. 49")
    assert all(isinstance(v, str) for v in ps7.values())


def test_original_zybo_has_a_full_ddr_preset():
    ps7 = boards.get("zybo").ps7  # no board file in recent Vivado: everything explicit
    assert ps7["PCW_UIPARAM_DDR_PARTNO"] == "MT41K128M16 JT-125"
    assert {f"PCW_UIPARAM_DDR_BOARD_DELAY{i}" for i in range(4)} <= set(ps7)
    assert ps7["PCW_CRYSTAL_PERIPHERAL_FREQMHZ"] == "50"


def test_unknown_board_names_the_valid_ones():
    for bad in ("zedboard", "", "../zybo", "zybo.yaml"):
        with pytest.raises(AccelError, match="unknown board .*pynq-z2, zybo, zybo-z7-10, zybo-z7-20"):
            boards.get(bad)


def test_hls_yaml_agrees_with_the_board_files():
    cfg = generate.load_config()
    for name in boards.names():
        b, h = boards.get(name), cfg["boards"][name]
        assert h["part"] == b.part
        assert h["dsp48"] == b.capacity["DSP48E1"] and h["bram36"] == b.capacity["BRAM36"]
        assert h["multipliers"] <= b.capacity["DSP48E1"]


def test_extra_board_folder_and_bad_files(tmp_path, monkeypatch):
    (tmp_path / "myboard.yaml").write_text(
        "part: xc7z020clg484-1\nclock_mhz: 125\ncapacity: {LUT: 53200, FF: 106400, BRAM36: 140, "
        "DSP48E1: 220}\n")
    (tmp_path / "broken.yaml").write_text("part: xc7z020clg484-1\nclock_mhz: 100\n"
                                          "capacity: {LUT: 1}\n")
    (tmp_path / "fast.yaml").write_text(
        "part: xc7z020clg484-1\nclock_mhz: 900\ncapacity: {LUT: 1, FF: 1, BRAM36: 1, DSP48E1: 1}\n")
    (tmp_path / "nopart.yaml").write_text(
        "part: [x]\nclock_mhz: 100\ncapacity: {LUT: 1, FF: 1, BRAM36: 1, DSP48E1: 1}\n")
    monkeypatch.setenv("ACCEL_BOARDS", str(tmp_path))
    assert {"myboard", "zybo"} <= set(boards.names())
    b = boards.get("myboard")
    assert (b.part, b.board_part, b.clock_mhz, b.ps7, b.ddr_mb) == ("xc7z020clg484-1", None, 125, {}, 512)
    with pytest.raises(AccelError, match="missing key 'capacity.FF'"):
        boards.get("broken")
    with pytest.raises(AccelError, match="clock_mhz must be a finite number from 10 to 250"):
        boards.get("fast")
    with pytest.raises(AccelError, match=r"part must be a Xilinx part name .*, not \['x'\]"):
        boards.get("nopart")

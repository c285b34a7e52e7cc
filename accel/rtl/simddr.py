"""DDR behind a simulated accel_top whose weights live in DDR (accel_rtl.json "ddr"): the image
weights.bin at BASE, one read port per DDR layer (m_axi_<layer>_*).

- HDL DMA model (tb/accel_tb_dma.v, cocotb or native Verilator): one tb/accel_tb_ddr.v per port,
  wired by two includes generated here from the manifest; the image as tb_ddr.mem ($readmemh).
- cocotbext driver (tb/network.py): one cocotbext-axi AxiRamRead per port, behind a latency
  line (tb/network.py's DelayedRam); the ports' names come from ports() through the config.

Both add >= LATENCY cycles from each AR handshake to its first R beat and random AR/R stalls,
and report per port the bursts, beats, least latency seen and a protocol/range error flag.
"""

from pathlib import Path

from accel.core.errors import AccelError
from accel.rtl.netlist import AXI_MASTER

BASE = 0x1000_0000  # weights_base in simulation: page aligned, as ddr.plan counts the bursts
LATENCY = 40        # default cycles from AR handshake to the first R beat
MODELS, PORTS = "accel_tb_ddr_models.vh", "accel_tb_ddr_ports.vh"
MEM = "tb_ddr.mem"
# per port: bursts and beats in all, the least AR-to-data latency, the first N images' traffic
# (bursts, beats requested; the master runs ahead into image N+1), protocol or range error
COUNTERS = ("bursts", "beats", "lat_min", "img_bursts", "img_beats", "err")


def ports(manifest: dict) -> list[str]:
    """The AXI read ports' prefixes (m_axi_<layer>), network order; [] for on-chip designs."""
    return [l["port"] for l in (manifest.get("ddr") or {}).get("layers", [])]


def words(manifest: dict) -> int:
    """64-bit words of the DDR image."""
    return -(-manifest["ddr"]["bytes"] // 8)


def includes(manifest: dict) -> dict[str, str]:
    """The two includes of tb/accel_tb_dma.v for this design (empty for on-chip designs)."""
    if not ports(manifest):
        return {}
    models, conns = [], ["        .weights_base(ddr_base),"]
    layers = manifest["ddr"]["layers"]
    for i, (p, rec) in enumerate(zip(ports(manifest), layers)):
        models += [f"    wire {f'[{b - 1}:0] ' if b > 1 else ''}{p}_{sig};"
                   for _, b, sig in AXI_MASTER]
        slave = {sig: f"{p}_{sig}" for _, _, sig in AXI_MASTER
                 if sig not in ("arburst", "arcache", "arprot")}  # INCR, no cache, no prot: fixed
        models.append(f"    accel_tb_ddr #(.WORDS({words(manifest)}), .SEED({i + 1}), "
                      f".START({rec['offset']}), .PASSES({rec['passes']})) u_ddr_{p} (\n"
                      f"        .clk(ap_clk), .rst_n(ap_rst_n), .base(ddr_base),\n        "
                      + ", ".join(f".{s}({w})" for s, w in slave.items()) + ",\n        "
                      + ", ".join(f".{c}()" for c in COUNTERS) + ");")
        conns += [f"        .{p}_{sig}({p}_{sig})," for _, _, sig in AXI_MASTER]
    return {MODELS: "\n".join(models) + "\n", PORTS: "\n".join(conns) + "\n"}


def prof_lines(manifest: dict) -> list[str]:
    """$fwrite lines for the native testbench's result file: "ddr <port> <counters>"."""
    return [f'$fwrite(f, "ddr {p}{" %0d" * len(COUNTERS)}\\n", '
            + ", ".join(f"u_dma.u_ddr_{p}.{c}" for c in COUNTERS) + ");"
            for p in ports(manifest)]


def image(rtl_dir: Path, manifest: dict) -> bytes:
    """The design's weights.bin."""
    path = Path(rtl_dir) / manifest["ddr"]["file"]
    try:
        return path.read_bytes()
    except OSError as e:
        raise AccelError(f"{path}: no weight image ({e.strerror}): regenerate the design with "
                         "`accel rtl`") from None


def mem_text(data: bytes) -> str:
    """A weight image as $readmemh text: one little-endian 64-bit word a line."""
    data += bytes(-len(data) % 8)
    return "".join(f"{int.from_bytes(data[i:i + 8], 'little'):016x}\n"
                   for i in range(0, len(data), 8))


def plusargs(latency: int, stalls: float, base: int = BASE) -> list[str]:
    return [f"+ddr_lat={latency}", f"+ddr_stall={round(stalls * 100)}", f"+ddr_base={base:x}"]


def cocotb_config(image_file: Path, manifest: dict, latency: int, stalls: float,
                  base: int = BASE) -> dict:
    """tb/network.py's "ddr" settings: the ports, the image and where each blob starts."""
    layers = manifest["ddr"]["layers"]
    return {"ports": ports(manifest), "base": base, "image": str(image_file),
            "passes": [(l["offset"], l["passes"]) for l in layers], "latency": latency,
            "stalls": stalls, "counters": list(COUNTERS)}

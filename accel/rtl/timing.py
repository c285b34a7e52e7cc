"""A timing proxy without Vivado: the deepest register-to-register paths of the yosys-mapped netlist
(synth_xilinx -family xc7, flattened, `write_json`), as LUT levels, CARRY4 chain length and an
estimated delay -> fmax.

Why not yosys `ltp -noff`: it counts every cell on the longest topological path alike (LUT, MUXF7/8,
each CARRY4, INV, DSP48E1) and cuts only at flip-flops, so a 32-bit adder (8 CARRY4) looks deeper
than six LUT levels, and a DSP48E1 with its M register looks combinational. Here each primitive
has its own timing model (below): where a path starts and ends (flip-flops, block RAM, the DSP's
internal registers as yosys configured them, shift registers, LUTRAM writes, the top's ports) and
what it costs to pass through it.

Reported (the numbers a Vivado timing report gives per path, approximated):
- lut_levels: the most LUT levels on any start->end path. A LUT level is one LUT1-6 (or the
  asynchronous read of a LUTRAM / dynamic SRL address, which is a LUT). MUXF7/MUXF8 entered at
  I0/I1 combine the LUTs of their own slice into a wider function of the same level (counted
  apart, as muxf); entered at the select S, a routed net, they are a level of their own. INV is
  absorbed by Vivado into the next LUT or flip-flop: no level, no delay.
- carry4_chain: the longest cascade of CARRY4 (CO[3] -> CI); 4 bits each (a 32-bit adder is 8).
- dsp: DSP48E1s the path touches (a path from a DSP's output, into its input register, or
  through its unregistered multiplier/ALU).
- delay_ns / est_fmax_mhz: the critical path by the delay model; an ESTIMATE, not sign-off: no
  placement, no fan-out, one typical routed net per hop.

The delay model: rounded figures of a Zynq-7000 -1 speed grade in the style of Vivado's timing
reports (cell delay + one routed net per hop between slices). Dedicated connections inside a slice
or column (LUT -> MUXF7 -> MUXF8, LUT -> CARRY4.S, CARRY4.CO[3] -> next CI, DSP PCOUT -> PCIN) have
no net delay.
"""

from collections import deque

from accel.core.errors import AccelError

NET = 0.6          # one routed net between slices (Vivado: ~0.3-1.0 ns at low fan-out)
FF_CKO = 0.46      # FDRE clock -> Q
FF_SETUP = {"D": 0.05, "CE": 0.2, "R": 0.43, "S": 0.43,  # sync reset/set
            "CLR": 0.4, "PRE": 0.4}  # asynchronous: recovery
LUT = 0.124        # LUT1-6 input -> O (a LUT level is LUT + NET ~ 0.7 ns)
MUXF = {"MUXF7": 0.28, "MUXF8": 0.10}
CARRY_IN = {"CO": 0.60, "O": 0.50}   # S / DI / CYINIT -> CO[i] / O[i]
CARRY_CI = {"CO": 0.114, "O": 0.30}  # CI -> CO[i] / O[i] (~0.1 ns per further 4 bits)
DSP_CKO = 0.45     # a DSP48E1 register (A/B/C/M/P) -> the next stage
DSP_SETUP = 0.3    # a DSP48E1 input register (A, B, C, D, control)
DSP_MULT = 2.4     # A/B (or AD) -> the M register or the ALU (25x18 multiplier)
DSP_ALU = 1.5      # M / C / PCIN -> the P register or the P pins (48-bit ALU); unregistered
#                    A -> P is DSP_MULT + DSP_ALU = 3.9 ns, a PCIN cascade 1.5 ns per DSP48E1
BRAM_CKO = {0: 2.45, 1: 0.88}  # RAMB18E1/36E1 clock -> DO without / with the output register
BRAM_SETUP = 0.6
SRL_CKO = 1.3      # SRL16E/SRLC32E and LUTRAM clock -> output (the written bit)
LUTRAM_SETUP = 0.5
CLOCKS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "REGCLKARDRCLK", "REGCLKB", "RDCLK",
          "WRCLK"}
FLOPS = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")
BOUNDARY = {"BUFG", "BUFGCTRL", "BUFH", "BUFR", "IBUF", "OBUF", "OBUFT", "IOBUF", "GND", "VCC"}

# steps: what an arc adds to a path (lut levels, CARRY4s, MUXF7/8s, DSP48E1s)
NONE, LUT1, CARRY1, MUX1, DSP1 = ((0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0),
                                  (0, 0, 0, 1))


def _int(v, default=0) -> int:
    """A yosys JSON parameter (binary string, int or string) as an int."""
    if isinstance(v, int):
        return v
    try:
        return int(v, 2)
    except (TypeError, ValueError):
        return default


class Graph:
    """Nodes are signal bits (each has one driver) plus internal points of a cell; arcs carry a
    delay and steps. A node may also be a start point (a fixed arrival)."""

    def __init__(self, nbits: int):
        self.next_id = nbits
        self.start: dict = {}      # node -> (arrival, steps, label)
        self.fanin: dict = {}      # node -> [(src node, delay, steps)]
        self.ends: list = []       # (node, extra delay, steps, cell, pin)
        self.owner: dict = {}      # node -> the cell that drives it (for names and groups)

    def new(self, cell: str) -> int:
        self.next_id += 1
        self.owner[self.next_id] = cell
        return self.next_id

    def set_start(self, node, t, steps, label):
        old = self.start.get(node)
        if old is None or t > old[0]:
            self.start[node] = (t, steps, label)

    def arc(self, src, dst, delay, steps):
        if isinstance(src, int):  # "0"/"1"/"x": constants start nothing
            self.fanin.setdefault(dst, []).append((src, delay, steps))

    def end(self, src, extra, steps, cell, pin):
        if isinstance(src, int):
            self.ends.append((src, extra, steps, cell, pin))


def _bits(conn: dict, port: str) -> list:
    return conn.get(port, [])


def _add_cell(g: Graph, name: str, cell: dict, unmodelled: set) -> None:
    t, conn = cell["type"], cell["connections"]
    dirs = cell.get("port_directions", {})
    ins = {p: b for p, b in conn.items() if dirs.get(p) == "input" and p not in CLOCKS}
    outs = {p: b for p, b in conn.items() if dirs.get(p) == "output"}
    for bits in outs.values():
        for b in bits:
            if isinstance(b, int):
                g.owner[b] = name

    def net(pin_dedicated: bool) -> float:
        return 0.0 if pin_dedicated else NET

    if t in BOUNDARY:
        return
    if t.startswith("LUT") and t[3:].isdigit():
        (o,) = outs["O"]
        for bits in ins.values():
            g.arc(bits[0], o, NET + LUT, LUT1)
    elif t == "INV":  # absorbed into the next LUT or flip-flop input
        g.arc(ins["I"][0], outs["O"][0], 0.0, NONE)
    elif t in MUXF:
        (o,) = outs["O"]
        for p in ("I0", "I1"):
            g.arc(ins[p][0], o, MUXF[t], MUX1)
        g.arc(ins["S"][0], o, NET + MUXF[t], (1, 0, 1, 0))  # a routed select: a level
    elif t == "CARRY4":
        for port in ("CO", "O"):
            for i, o in enumerate(_bits(conn, port)):
                if not isinstance(o, int):
                    continue
                g.arc(_bits(conn, "CI")[0], o, CARRY_CI[port], CARRY1)
                g.arc(_bits(conn, "CYINIT")[0], o, NET + CARRY_IN[port], CARRY1)
                for k in range(i + 1):
                    g.arc(_bits(conn, "S")[k], o, CARRY_IN[port], CARRY1)  # from its own LUT
                    g.arc(_bits(conn, "DI")[k], o, NET + CARRY_IN[port], CARRY1)
    elif t in FLOPS:
        for p, bits in ins.items():
            g.end(bits[0], NET + FF_SETUP.get(p, 0.05), NONE, name, p)
        g.set_start(outs["Q"][0], FF_CKO, NONE, name)
    elif t == "DSP48E1":
        _add_dsp(g, name, cell, ins, outs)
    elif t.startswith(("RAMB", "FIFO")):
        p = cell.get("parameters", {})
        for pin, bits in ins.items():
            for b in bits:
                g.end(b, NET + BRAM_SETUP, NONE, name, pin)
        for pin, bits in outs.items():
            reg = _int(p.get("DOB_REG" if pin.startswith(("DOB", "DOPB")) else "DOA_REG", 0))
            for b in bits:
                if isinstance(b, int):
                    g.set_start(b, BRAM_CKO[1 if reg else 0], NONE, name)
    elif t.startswith(("SRL", "RAM")) and _lutram_reads(t, outs):
        reads = _lutram_reads(t, outs)
        read_only = {a for o, addrs in reads.items() for a in addrs} - _written(t, ins)
        for pin, bits in ins.items():
            if pin not in read_only:
                for b in bits:
                    g.end(b, NET + LUTRAM_SETUP, NONE, name, pin)
        for pin, bits in outs.items():
            for o in bits:
                if not isinstance(o, int):
                    continue
                g.set_start(o, SRL_CKO, NONE, name)
                for a in reads.get(pin, ()):
                    for b in ins.get(a, ()):
                        g.arc(b, o, NET + LUT + (MUXF["MUXF7"] if "128" in t or "256" in t
                                                 else 0.0), LUT1)
    else:  # unknown primitive: a LUT level from every input to every output (and say so)
        unmodelled.add(t)
        for o in (b for bits in outs.values() for b in bits if isinstance(b, int)):
            for bits in ins.values():
                for b in bits:
                    g.arc(b, o, NET + LUT, LUT1)


def _lutram_reads(t: str, outs: dict) -> dict:
    """Output pin -> the address pins it reads asynchronously (LUTRAM, dynamic SRL)."""
    reads = {}
    for pin in outs:
        if t.startswith("SRL"):
            reads[pin] = ["A", "A0", "A1", "A2", "A3"] if pin == "Q" else []
        elif pin.startswith("DO") and len(pin) == 3:         # RAM32M / RAM64M / RAM32M16 / ...
            reads[pin] = ["ADDR" + pin[2]]
        elif pin == "DPO":                                     # RAMxxX1D read port
            reads[pin] = ["DPRA"] + [f"DPRA{i}" for i in range(8)]
        elif pin in ("SPO", "O"):                              # RAMxxX1D/X1S write-address port
            reads[pin] = ["A"] + [f"A{i}" for i in range(8)]
    return reads


def _written(t: str, ins: dict) -> set:
    """Input pins the LUTRAM writes with (the write address of a multi-port RAM is its last)."""
    if t.startswith("SRL"):
        return {"D", "CE"}
    if t.startswith("RAM") and "M" in t[5:]:  # RAM32M, RAM64M, RAM32M16, RAM64M8
        addr = sorted(p for p in ins if p.startswith("ADDR"))
        return {addr[-1]} if addr else set()
    return {p for p in ins if not p.startswith("DPRA")}


def _add_dsp(g: Graph, name: str, cell: dict, ins: dict, outs: dict) -> None:
    """DSP48E1 as yosys configured it: input registers (AREG/BREG/...), the multiplier, MREG, the
    ALU, PREG. A register ends the paths into it and starts the next stage; the internal points
    `mult` (before the multiplier) and `alu` (before the ALU) are nodes of their own."""
    p = cell.get("parameters", {})
    use_mult = str(p.get("USE_MULT", "MULTIPLY")) != "NONE"
    mreg, preg = _int(p.get("MREG", 1)) and use_mult, _int(p.get("PREG", 1))
    # input pin -> (its register parameter, the stage it feeds: 0 multiplier, 1 ALU)
    groups = {"A": ("AREG", 0), "ACIN": ("AREG", 0), "B": ("BREG", 0), "BCIN": ("BREG", 0),
              "D": ("DREG", 0), "INMODE": ("INMODEREG", 0), "C": ("CREG", 1),
              "OPMODE": ("OPMODEREG", 1), "ALUMODE": ("ALUMODEREG", 1),
              "CARRYIN": ("CARRYINREG", 1), "CARRYINSEL": ("CARRYINSELREG", 1),
              "PCIN": (None, 1), "CARRYCASCIN": (None, 1), "MULTSIGNIN": (None, 1)}
    dedicated = {"ACIN", "BCIN", "PCIN", "CARRYCASCIN", "MULTSIGNIN"}
    stage = [g.new(name), g.new(name)]  # before the multiplier, before the ALU
    for pin, bits in ins.items():
        reg, where = groups.get(pin, ("control", None))
        hop = 0.0 if pin in dedicated else NET
        if where is None or (reg and _int(p.get(reg, 0))):  # CE/RST, or a registered input
            for b in bits:
                g.end(b, hop + DSP_SETUP, DSP1, name, pin)
            if where is not None:
                g.set_start(stage[where], DSP_CKO, DSP1, name)
        else:
            for b in bits:
                g.arc(b, stage[where], hop, DSP1)
    mult = DSP_MULT if use_mult else 0.0
    if mreg:
        g.end(stage[0], mult, NONE, name, "MREG")
        g.set_start(stage[1], DSP_CKO, DSP1, name)
    else:
        g.arc(stage[0], stage[1], mult, NONE)
    if preg:
        g.end(stage[1], DSP_ALU, NONE, name, "PREG")
    for pin, bits in outs.items():
        for o in bits:
            if not isinstance(o, int):
                continue
            if pin in ("ACOUT", "BCOUT"):
                g.arc(stage[0], o, 0.0, NONE)
            elif preg:
                g.set_start(o, DSP_CKO, DSP1, name)
            else:
                g.arc(stage[1], o, DSP_ALU, NONE)


def build(netlist: dict, top: str):
    """The timing graph of the top module of a flattened yosys JSON netlist."""
    mod = netlist["modules"][top]
    nbits = max((b for n in mod["netnames"].values() for b in n["bits"] if isinstance(b, int)),
                default=0) + 1
    g, unmodelled = Graph(nbits), set()
    for pname, port in mod["ports"].items():
        for i, b in enumerate(port["bits"]):
            label = f"port {pname}" + (f"[{i}]" if len(port["bits"]) > 1 else "")
            if port["direction"] == "input" and isinstance(b, int):
                g.set_start(b, FF_CKO, NONE, label)  # as if a register outside drove it
                g.owner[b] = label
            elif port["direction"] == "output":
                g.end(b, NET, NONE, label, "")
    for name, cell in mod["cells"].items():
        _add_cell(g, name, cell, unmodelled)
    return g, unmodelled


def propagate(g: Graph):
    """Arrival of every node, twice: by delay (the critical path) and by LUT levels (the deepest
    path), each with the predecessor it came from. Kahn's order; a combinational loop (none in a
    synchronous design) leaves its nodes out and is counted."""
    nodes = set(g.start) | set(g.fanin)
    for arcs in g.fanin.values():
        nodes.update(src for src, _, _ in arcs)
    fanout: dict = {}
    indeg = dict.fromkeys(nodes, 0)
    for dst, arcs in g.fanin.items():
        for src, _, _ in arcs:
            fanout.setdefault(src, []).append(dst)
            indeg[dst] += 1
    # node -> (value, pred node or None, steps of that arc); levels tie-break on delay
    delay, level = {}, {}
    queue = deque(n for n, k in indeg.items() if k == 0)
    done = 0
    while queue:
        n = queue.popleft()
        done += 1
        s = g.start.get(n)
        best_d = (s[0], None, s[1]) if s else None
        best_l = ((s[1][0], s[0]), None, s[1]) if s else None
        for src, d, steps in g.fanin.get(n, ()):
            if src in delay:
                v = delay[src][0] + d
                if best_d is None or v > best_d[0]:
                    best_d = (v, src, steps)
                (lv, lv_d) = level[src][0]
                lv = (lv + steps[0], lv_d + d)
                if best_l is None or lv > best_l[0]:
                    best_l = (lv, src, steps)
        if best_d is not None:
            delay[n], level[n] = best_d, best_l
        for m in fanout.get(n, ()):
            indeg[m] -= 1
            if indeg[m] == 0:
                queue.append(m)
    return delay, level, len(nodes) - done


def _walk(table: dict, node, g: Graph):
    """The path into node along the chosen predecessors: (start label, summed steps)."""
    total = [0, 0, 0, 0]
    while True:
        _, pred, steps = table[node]
        total = [a + b for a, b in zip(total, steps)]
        if pred is None:
            label = g.start[node][2] if node in g.start else g.owner.get(node, "?")
            return label, total
        node = pred


def carry_chains(mod: dict) -> dict:
    """Longest CARRY4 cascade ending at each CARRY4 cell: {cell: length}."""
    carry = {n: c for n, c in mod["cells"].items() if c["type"] == "CARRY4"}
    co3 = {c["connections"]["CO"][3]: n for n, c in carry.items()}
    length: dict = {}
    for n in carry:
        chain = [n]
        while True:
            ci = carry[chain[-1]]["connections"]["CI"][0]
            prev = co3.get(ci)
            if prev is None or prev in length or prev in chain:
                break
            chain.append(prev)
        base = length.get(co3.get(carry[chain[-1]]["connections"]["CI"][0]), 0)
        for i, c in enumerate(reversed(chain)):
            length[c] = base + i + 1
    return length


DEPTH = ("lut_levels", "carry4_chain")  # what a design must not gain against its record


def deeper(now: dict, recorded: dict) -> list:
    """Where a design's timing got deeper than a recorded one (benchmarks/results/timing.json):
    ["lut_levels 8 > 7", ...]; empty when it did not."""
    return [f"{k} {now[k]} > {recorded[k]}" for k in DEPTH if now[k] > recorded[k]]


def instance_of(cell: str) -> str:
    """The top-level instance a cell of the flattened netlist came from ("" for the top's own):
    flatten names a submodule's cells `$flatten\\<instance>.<name>` or `<instance>.<name>`."""
    name = cell[len("$flatten\\"):] if cell.startswith("$flatten\\") else cell
    return "" if name.startswith("$") else name.split(".", 1)[0]


def clean(name: str) -> str:
    """A readable cell or net name: yosys's flatten prefix and escapes dropped."""
    return name.replace("$flatten", "").replace("\\", "")


def summary(path_d, path_l, chain) -> dict:
    """One row: the deepest path (LUT levels), the longest carry chain, the critical path."""
    (d, d_from, d_to, d_steps), ((lv, _), l_from, l_to, l_steps) = path_d, path_l
    return {"lut_levels": lv, "carry4_chain": chain, "dsp_stages": d_steps[3],
            "delay_ns": round(d, 2), "est_fmax_mhz": round(1000.0 / d, 1) if d > 0 else None,
            "path": {"from": l_from, "to": l_to, "lut_levels": lv, "carry4": l_steps[1],
                     "muxf": l_steps[2], "dsp": l_steps[3]},
            "critical": {"from": d_from, "to": d_to, "delay_ns": round(d, 2),
                         "lut_levels": d_steps[0], "carry4": d_steps[1], "muxf": d_steps[2],
                         "dsp": d_steps[3]}}


def analyze(netlist: dict, top: str, group=None) -> dict:
    """Timing proxy of a flattened netlist. group(cell name) -> a group (e.g. a layer) of the
    endpoint; the result has the whole design's row and one per group in `groups`."""
    mod = netlist["modules"][top]
    g, unmodelled = build(netlist, top)
    delay, level, loops = propagate(g)
    names = _net_names(mod)
    group = group or (lambda cell: None)
    chains = carry_chains(mod)
    rows: dict = {}  # group -> [best by delay, best by levels, longest chain]

    def label(cell, pin):
        if cell.startswith("port "):
            return cell
        c = mod["cells"][cell]
        if c["type"] in FLOPS:  # a flip-flop: named by its register
            return names.get(c["connections"]["Q"][0], clean(cell)) + (f" ({pin})" if pin != "D"
                                                                       else "")
        return f"{clean(cell)}.{pin}"

    def start_label(lab):
        if lab.startswith("port ") or lab not in mod["cells"]:
            return clean(lab)
        q = mod["cells"][lab]["connections"].get("Q")
        return names.get(q[0], clean(lab)) if q else clean(lab) + f" ({mod['cells'][lab]['type']})"

    for src, extra, steps, cell, pin in g.ends:
        if src not in delay:
            continue
        key = "io" if cell.startswith("port ") else group(cell)
        row = rows.setdefault(key, [None, None, 0])
        d = delay[src][0] + extra
        lv = (level[src][0][0] + steps[0], level[src][0][1] + extra)
        if row[0] is None or d > row[0][0]:
            row[0] = (d, src, steps, cell, pin)
        if row[1] is None or lv > row[1][0]:
            row[1] = (lv, src, steps, cell, pin)
    for c, n in chains.items():
        row = rows.setdefault(group(c), [None, None, 0])
        row[2] = max(row[2], n)

    def path(best, table):
        value, src, steps, cell, pin = best
        start, total = _walk(table, src, g)
        total = [a + b for a, b in zip(total, steps)]
        return value, start_label(start), label(cell, pin), total

    if not any(r[0] for r in rows.values()):
        raise AccelError(f"the netlist of {top} has no register-to-register path to time")
    out_rows = {}
    for key, (bd, bl, chain) in rows.items():
        if bd is None:
            continue
        out_rows[key] = summary(path(bd, delay), path(bl, level), chain)
    whole_d = max((r[0] for r in rows.values() if r[0]), key=lambda r: r[0])
    whole_l = max((r[1] for r in rows.values() if r[1]), key=lambda r: r[0])
    res = summary(path(whole_d, delay), path(whole_l, level), max(chains.values(), default=0))
    res.update(groups=out_rows, unmodelled=sorted(unmodelled), loops=loops,
               model="estimate: Zynq-7000 -1 speed grade, one routed net per hop, no placement")
    return res


def _net_names(mod: dict) -> dict:
    """bit -> the shortest public net name[index] of it (registers are named by their Q net)."""
    names: dict = {}
    for n, net in mod["netnames"].items():
        if net.get("hide_name"):
            continue
        bits = net["bits"]
        for i, b in enumerate(bits):
            if isinstance(b, int):
                s = clean(n) + (f"[{i}]" if len(bits) > 1 else "")
                if b not in names or len(s) < len(names[b]):
                    names[b] = s
    return names


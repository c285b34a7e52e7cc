"""Vivado's report files -> numbers for the build report.

    utilization(text)   {"LUT", "LUTRAM", "FF", "BRAM36", "RAMB36", "RAMB18", "DSP48E1"} each
                        {"used", "available", "percent"} (BRAM36 counts block RAM tiles: one RAMB36
                        or two RAMB18; 27.5 = 27 tiles and a half)
    timing(text)        {"wns_ns", "tns_ns", "failing_endpoints", "whs_ns", "ths_ns",
                         "hold_failing_endpoints", "met", "clocks": {name: {"period_ns",
                         "mhz"}}, "fmax_mhz": estimate from the worst setup slack}

Tables are read by their header row (Vivado added a 'Prohibited' column in 2019.x; both forms
parse). A report without a row this needs raises ValueError naming it.
"""

import re

# report row name (Vivado's "Site Type", '*' footnote marks removed) -> our key
_UTIL_ROWS = {
    "Slice LUTs": "LUT", "LUT as Memory": "LUTRAM", "Slice Registers": "FF",
    "Block RAM Tile": "BRAM36", "RAMB36/FIFO": "RAMB36", "RAMB18": "RAMB18", "DSPs": "DSP48E1",
}
_REQUIRED = ("LUT", "FF", "BRAM36", "DSP48E1")


def _number(cell: str):
    cell = cell.strip()
    if not cell or cell in ("-", "_"):
        return None
    try:
        value = float(cell)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


def _tables(text: str):
    """Every |-delimited table: yields (header cells, list of row cells)."""
    header, rows = None, []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            cells = [c.strip() for c in s[1:-1].split("|")]
            if header is None:
                header = cells
            else:
                rows.append(cells)
        elif s.startswith("+"):
            continue
        else:
            if header is not None:
                yield header, rows
            header, rows = None, []
    if header is not None:
        yield header, rows


def utilization(text: str) -> dict:
    out = {}
    for header, rows in _tables(text):
        if "Site Type" not in header or "Used" not in header:
            continue
        i_used, i_avail = header.index("Used"), header.index("Available")
        i_pct = header.index("Util%") if "Util%" in header else None
        for cells in rows:
            if len(cells) != len(header):
                continue
            name = cells[header.index("Site Type")].rstrip("*").strip()
            key = _UTIL_ROWS.get(name)
            if key is None or key in out:
                continue
            used, avail = _number(cells[i_used]), _number(cells[i_avail])
            if used is None:
                continue
            pct = _number(cells[i_pct]) if i_pct is not None else None
            if pct is None and avail:
                pct = round(100.0 * used / avail, 2)
            out[key] = {"used": used, "available": avail, "percent": pct}
    missing = [k for k in _REQUIRED if k not in out]
    if missing:
        raise ValueError(f"utilization report: no row for {', '.join(missing)}")
    return out


def _after(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("|") and line.strip("| \t") == title:
            return lines[i + 1:]
    raise ValueError(f"timing summary: no '{title}' section")


def timing(text: str) -> dict:
    lines = _after(text, "Design Timing Summary")
    head = next((i for i, l in enumerate(lines) if l.strip().startswith("WNS(ns)")), None)
    if head is None:
        raise ValueError("timing summary: no WNS(ns) header")
    names = re.split(r"\s{2,}", lines[head].strip())
    values = next(l for l in lines[head + 2:] if l.strip()).split()
    if len(values) != len(names):
        raise ValueError("timing summary: the Design Timing Summary row does not match its header")
    row = dict(zip(names, values))

    def num(name):
        v = row.get(name, "NA")
        return None if v in ("NA", "inf", "-inf") else float(v)

    result = {"wns_ns": num("WNS(ns)"), "tns_ns": num("TNS(ns)"),
              "failing_endpoints": int(num("TNS Failing Endpoints") or 0),
              "whs_ns": num("WHS(ns)"), "ths_ns": num("THS(ns)"),
              "hold_failing_endpoints": int(num("THS Failing Endpoints") or 0),
              "wpws_ns": num("WPWS(ns)")}
    result["met"] = ("All user specified timing constraints are met." in text
                     and result["failing_endpoints"] == 0
                     and result["hold_failing_endpoints"] == 0)
    clocks = {}
    try:
        clk_lines = _after(text, "Clock Summary")
    except ValueError:
        clk_lines = []
    started = False
    for line in clk_lines:
        s = line.strip()
        if s.startswith("Clock") and "Period(ns)" in s:
            started = True
            continue
        if not started or s.startswith("-----"):
            continue
        if not s:
            if clocks:
                break
            continue
        m = re.match(r"(\S+)\s+\{[^}]*\}\s+([\d.]+)\s+([\d.]+)", s)
        if m:
            clocks[m.group(1)] = {"period_ns": float(m.group(2)), "mhz": float(m.group(3))}
    result["clocks"] = clocks
    if clocks and result["wns_ns"] is not None:
        period = min(c["period_ns"] for c in clocks.values())
        result["fmax_mhz"] = round(1000.0 / (period - result["wns_ns"]), 1)
    else:
        result["fmax_mhz"] = None
    return result

"""Stage: the board flow. `accel build --board B` runs model -> golden vectors -> HLS project +
C-sim check (or RTL + simulation) -> Vitis HLS -> Vivado -> overlay package, cached by content hash.

    pipeline.build(board, model, backend, until, out)   the whole chain (exit status + commands)
    vivado.write(folder, board, name, accel)             board flow TCL + params.tcl
    vivado_reports.utilization(text) / timing(text)      Vivado reports -> numbers
    report.write(folder, state)                          report.md + PNG plots
"""

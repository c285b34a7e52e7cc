"""Stage: the board flow. `accel build --board B` runs model -> golden vectors -> HLS project +
C-sim check (or RTL + simulation) -> Vitis HLS -> Vivado -> overlay package, cached by content hash.

    build.build(board, model, backend, until, out)   the orchestration (exit status + commands)
    context.Context                                   what the stages of one build share
    stages.<stage>.run(ctx)                           one module per stage (see stages/__init__.py)
    stamps                                            a stage folder's key and status
    vivado.write(folder, board, name, accel)          board flow TCL + params.tcl
    vivado_reports.utilization(text) / timing(text)   Vivado reports -> numbers
    report.write(folder, state, summary, board)       report.md + PNG plots
"""

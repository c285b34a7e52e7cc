"""Stage: the RTL backend. Model file -> our own synthesizable Verilog dataflow accelerator,
simulated with cocotb against the golden model, sized with yosys.

    generate.generate(model, out_dir, fold, board)   Verilog + ROM files + accel_rtl.json
    fold.load(qm, spec) / fold.auto_fold(qm, fps)     multipliers per layer (PE x SIMD)
    sim.simulate(rtl_dir, images, simulator)          cocotb run: outputs, latency, II, per layer
    estimate.estimate(rtl_dir, board)                 yosys synth_xilinx resources vs the board
"""

"""The stages of `accel build`, one module each, in flow order. Each has `run(ctx) -> stamp`
(status done | pending | blocked) and keys its folder by its inputs and by
cache.module_hash(<the stage's module>): the code of everything the stage imports.

    model    the model file (copy) and its integer layers (info.json)
    golden   golden vectors: N test images, expected output codes and every layer's codes, and the
             golden accuracy on more test images
    hls      hls4ml Vitis HLS project (accel.hls) + g++ C-sim compared with the golden vectors,
             outputs and every layer; resource estimate checked against the board
    rtl      (--backend rtl) our Verilog (accel.rtl) + its yosys estimate + simulation check
    vitis    Vitis HLS csynth/cosim/export of the project -> accel_ip.zip   (needs vitis_hls)
    vivado   the board flow TCL with params.tcl -> <name>.bit + <name>.hwh   (needs vivado)
    overlay  bit, hwh, accel_overlay.json, the model file, the driver
"""

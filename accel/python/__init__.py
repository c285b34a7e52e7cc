"""Board-side runtime (PYNQ conventions), copied into the overlay by `accel build`.

    driver.AccelOverlay(folder)        load an overlay on the board (pynq imported lazily)
    driver.Accelerator(overlay, meta)  run / predict / benchmark through the AXI DMA
    simdevice.sim_overlay(model=...)   the same interface with the RTL simulation as the device
"""

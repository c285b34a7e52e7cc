// Native Verilator top around accel_tb_dma (accel.rtl.verilate builds it without cocotb or VPI):
// the clock comes from accel_tb_main.cpp's loop; reset for 4 cycles as the cocotb test does; at
// DONE the ACCEL_PROFILE counters of accel_top go to tb_result.txt, at the cycle the cocotb test
// reads them; after +timeout=<cycles> (counted from reset) without DONE the file says "timeout"
// instead. accel_tb_prof.vh (generated per design into the build folder) holds the $fwrite lines
// of the design's streams; accel_tb_cap.vh (capture builds, `ifdef ACCEL_CAPTURE) writes every
// stream's beats to files.
`timescale 1ns/1ps
`default_nettype none
module accel_tb_main #(
    parameter WORDS      = 196,
    parameter OUT_WORDS  = 10,
    parameter MAX_IMAGES = 10000
) (
    input wire ap_clk
);
    reg ap_rst_n = 1'b0;
    reg [2:0] rst_count = 3'd0;
    wire done;
    accel_tb_dma #(.WORDS(WORDS), .OUT_WORDS(OUT_WORDS), .MAX_IMAGES(MAX_IMAGES)) u_dma (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .done(done));

`ifdef ACCEL_CAPTURE
`include "accel_tb_cap.vh"
`endif
    integer timeout, f;
    reg [31:0] cycles = 0;
    reg [1:0] after = 0;  // cycles since DONE was seen
    initial if (!$value$plusargs("timeout=%d", timeout)) timeout = 0;
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            rst_count <= rst_count + 1;
            if (rst_count == 3) ap_rst_n <= 1'b1;
        end else begin
            cycles <= cycles + 1;
            if (done) after <= after + 1;
            // the registers as the cocotb test reads them (tests/test_rtl_sim.py): at the 2nd edge
            // after DONE's, before that edge's updates, i.e. as the edge after DONE's left them
            if (after == 1) begin
                f = $fopen("tb_result.txt", "w");
                $fwrite(f, "done\n");
`include "accel_tb_prof.vh"
                $fclose(f);
                $finish;
            end else if (!done && timeout > 0 && cycles >= timeout) begin
                f = $fopen("tb_result.txt", "w");
                $fwrite(f, "timeout %0d\n", cycles);
                $fclose(f);
                $finish;
            end
        end
    end
endmodule
`default_nettype wire
